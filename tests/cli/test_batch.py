"""`looplab batch`: the batch drawn is the one training is given, drawn as a PNG."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from looplab.cli import run
from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.models.cnn import build_network
from looplab.run.batch_view import draw_batch
from looplab.run.build import build, model_spec


@pytest.mark.parametrize(
    ("dataset", "batch_size", "index", "shift"),
    [("mnist-5k", 16, 0, 0), ("mnist-5k", 16, 2, 2), ("moons", 32, 3, 0), ("iris", 7, 2, 0)],
)
def test_the_batch_shown_is_the_batch_training_draws(
    dataset: str, batch_size: int, index: int, shift: int
) -> None:
    config = Config(dataset=dataset, batch_size=batch_size, seed=4, augment_shift=shift,
                    augment_rotate=10.0 if shift else 0.0).validate()  # fmt: skip
    data = load_prepared(config)
    view = draw_batch(config, data, index)
    built = build(build_network(model_spec(config, data)), data, config)
    X, y = next(b for i, b in enumerate(built.train.epoch()) if i == index)
    assert torch.equal(view.X, X) and torch.equal(view.y, y)
    # and in the data's units: images back in [0, 1], points back where the dataset put them
    pre = data.preprocessor
    assert pre is not None
    torch.testing.assert_close(pre.transform(view.raw), X, rtol=0, atol=1e-5)
    if data.image_shape:
        assert float(view.raw.min()) >= -1e-6 and float(view.raw.max()) <= 1 + 1e-6


def test_batch_command_writes_a_png_and_names_the_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "b.png"
    args = ["batch", "--dataset", "mnist-5k", "--batch-size", "16", "--png", str(png)]
    assert run(args) == 0
    out = capsys.readouterr().out
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    assert f"wrote {png}" in out.replace("\n", "")
    config = Config(dataset="mnist-5k", batch_size=16)
    labels = draw_batch(config, load_prepared(config)).y
    counts = torch.bincount(labels, minlength=10)
    said = out.splitlines()[0]
    for digit, count in enumerate(counts.tolist()):
        assert (f"{count} x {digit}" in said) == (count > 0)


def test_batch_on_points_goes_to_the_out_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["batch", "--dataset", "moons", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "batch-moons-32.png").exists()


def test_a_batch_past_the_epoch_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["batch", "--dataset", "iris", "--batch-size", "50", "--index", "3", "--out",
            str(tmp_path)]  # fmt: skip
    assert run(args) == 2
    assert "--index 3 is not a batch of this epoch: it has 3 batches (0 to 2)" in (
        capsys.readouterr().err
    )
    assert not any(tmp_path.iterdir())
