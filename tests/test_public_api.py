"""The README's Python example runs, and every public name resolves."""

from __future__ import annotations

import subprocess
import sys

import looplab


def test_readme_example() -> None:
    from looplab import Config, ModelSpec, build_model, fit, load_prepared

    config = Config(dataset="moons", hidden=[16, 16], optimizer="adam", lr=0.01, epochs=30)
    data = load_prepared(config)
    model = build_model(ModelSpec(data.n_features, data.n_outputs, (16, 16)), seed=config.seed)
    history = fit(model, data, config)
    assert history.last["val_accuracy"] > 0.9
    assert len(history.to_dicts()) == 30


def test_every_public_name_resolves() -> None:
    for name in looplab.__all__:
        assert getattr(looplab, name) is not None


def test_cli_help_does_not_import_torch() -> None:
    code = "import sys, looplab.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_all_lists_exactly_the_exports() -> None:
    assert sorted(looplab.__all__) == sorted(looplab._EXPORTS)
