"""The config: defaults, TOML files, flags over files, coercion and validation messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from looplab.config import Config, coerce, field_names, load_toml, make_config
from looplab.errors import ConfigError, LooplabError
from looplab.run.checks import checked


def test_flags_override_the_file_which_overrides_defaults(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('lr = 0.5\nepochs = 7\n[model]\nhidden = [8, 4]\nactivation = "tanh"\n')
    config = make_config(path, lr="0.05")
    assert (config.lr, config.epochs, config.hidden, config.activation) == (0.05, 7, [8, 4], "tanh")
    assert config.optimizer == Config().optimizer


def test_saved_config_loads_back_equal(tmp_path: Path) -> None:
    config = make_config(None, dataset="spiral", hidden="32,32,32", batch_size="full", drop="a,b")
    config.save(tmp_path / "config.toml")
    assert make_config(tmp_path / "config.toml") == config
    assert load_toml(tmp_path / "config.toml")["batch_size"] == "full"


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("lr", "1e-3", 0.001),
        ("hidden", "16, 8", [16, 8]),
        ("batch_size", "FULL", "full"),
        ("batch_size", "64", 64),
        ("monitor", "yes", True),
        ("n", "none", None),
        ("epochs", 3.0, 3),
    ],
)
def test_coerce_parses_flag_text(name: str, text: object, value: object) -> None:
    assert coerce(name, text) == value


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"activation": "swish"},
            "unknown activation 'swish'; choose one of: relu, tanh, sigmoid, gelu",
        ),
        ({"schedule": "cyclic"}, "unknown schedule 'cyclic'; choose one of: constant"),
        ({"momentum": 1.0}, "momentum must be in [0, 1), got 1.0"),
        ({"patience": -1}, "patience must be a whole number >= 0, got -1"),
    ],
)
def test_validation_names_the_field_and_the_allowed_values(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        Config(**changes).validate()
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"dataset": "csv:x.csv"}, "needs a target column: add --target COLUMN"),
        ({"dataset": "moon"}, "unknown dataset 'moon'; choose one of: linear, sine, moons"),
        ({"dataset": "iris", "n": 50}, "dataset 'iris' is real data: --n and --noise do not"),
    ],
)
def test_the_dataset_is_checked_with_the_config_before_any_data_is_read(
    changes: dict[str, Any], message: str
) -> None:
    config = Config(**changes)
    config.validate()  # the config's own fields are fine; the data registry knows datasets
    with pytest.raises(LooplabError) as info:
        checked(config)
    assert message in str(info.value)


def test_a_config_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "excel.toml"
    path.write_bytes("\ufefflr = 0.05\nhidden = [8]\n".encode())
    assert load_toml(path) == {"lr": 0.05, "hidden": [8]}
    assert make_config(path).lr == 0.05


def test_applicable_fields_follow_the_rules() -> None:
    from looplab.config import APPLIES, applicable

    moons = applicable(Config(), "binary")
    for hidden in (
        "sep",
        "momentum",
        "warmup",
        "target",
        "drop",
        "impute",
        "task",
        "threads",
        "checkpoint_every",
        "checkpoint_steps",
        "init_scale",
        "standardize_target",
    ):
        assert hidden not in moons, hidden
    assert {"dataset", "hidden", "activation", "optimizer", "lr", "epochs"} <= set(moons)
    on = Config(
        dataset="csv:x.csv",
        target="y",
        optimizer="nesterov",
        schedule="cosine",
        threads=1,
        checkpoint_every=5,
        init="normal",
    )
    shown = applicable(on, "regression")
    for field in (
        "momentum",
        "warmup",
        "target",
        "drop",
        "impute",
        "task",
        "threads",
        "checkpoint_every",
        "init_scale",
        "standardize_target",
    ):
        assert field in shown, field
    assert "checkpoint_steps" not in shown  # still 0: off
    linear = applicable(Config(model="linear", batch_size="full"), None)
    assert not {"activation", "dropout", "norm", "residual", "hidden", "drop_last"} & set(linear)
    assert "standardize_target" in linear  # the task is not known: it may apply
    assert set(APPLIES) <= set(field_names())


def test_toml_values_are_written_as_in_a_toml_file() -> None:
    import tomllib

    from looplab.config import toml_value

    values = {
        "hidden": [16, 16],
        "dataset": 'csv:C:\\data "x".csv',
        "residual": False,
        "lr": 0.01,
        "batch_size": "full",
        "drop": ["a", "b"],
        "epochs": 3,
    }
    shown = {k: toml_value(v) for k, v in values.items()}
    assert shown["hidden"] == "[16, 16]" and shown["residual"] == "false"
    assert shown["batch_size"] == '"full"' and shown["drop"] == '["a", "b"]'
    text = "\n".join(f"{k} = {v}" for k, v in shown.items())
    assert tomllib.loads(text) == values  # each line reads back as the value


@pytest.mark.parametrize("name", ["a:b", "con", "x.", "a/b", "what?", "  "])
def test_a_run_name_some_system_refuses_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="not a portable directory name"):
        Config(name=name).validate()
