"""Resuming across optimizer implementations: a checkpoint carries the implementation it was
written with and continues with it, moves between torch.optim and the fused rules, or is
refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from looplab import loop
from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.errors import ConfigError
from looplab.manual.engine import manual_engine
from looplab.manual.fused import FusedAdam
from looplab.models.mlp import MLP, build_model
from looplab.run import optimizers
from looplab.run.build import build, model_spec
from looplab.run.fit import fit
from looplab.watch.checkpointer import Checkpointer


def _config(**fields: object) -> Config:
    return Config(epochs=3, n=120, batch_size=10, device="cpu", **fields).validate()  # type: ignore[arg-type]


def _model(config: Config) -> MLP:
    return build_model(model_spec(config, load_prepared(config)), seed=config.seed)


def _weights(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_torch_optim_takes_its_fastest_implementation_on_the_cpu() -> None:
    config = _config(optimizer="adam")
    data = load_prepared(config)
    adam = build(_model(config), data, config).optimizer
    assert adam.param_groups[0]["fused"] is True
    rmsprop = build(_model(config), data, config.replace(optimizer="rmsprop")).optimizer
    assert rmsprop.param_groups[0]["foreach"] is True  # torch has no fused RMSprop
    manual = build(_model(config), data, config.replace(engine="manual")).optimizer
    assert isinstance(manual, FusedAdam)


def test_an_older_checkpoint_continues_with_the_implementation_it_was_written_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run checkpointed with torch.optim's default (for-loop) Adam, as looplab wrote them
    before fused, resumes bitwise: torch.optim restores the flags with the state."""
    config = _config(optimizer="adam")
    data = load_prepared(config)
    monkeypatch.setattr(optimizers, "fastest_implementation", lambda name, params: {})
    reference = _model(config)
    history = fit(reference, data, config)
    saver = Checkpointer(tmp_path, every_steps=7, keep=10)
    fit(_model(config), data, config, [saver])
    monkeypatch.undo()  # this version: fused unless the checkpoint says otherwise
    resumed = _model(config)
    again = fit(resumed, data, config, resume=saver.written[1])
    assert torch.equal(_weights(resumed), _weights(reference))
    assert again.without_timing() == history.without_timing()
    fused = _model(config)
    fit(fused, data, config)  # the fused implementation alone: the same run to rounding ...
    torch.testing.assert_close(_weights(fused), _weights(reference), rtol=0, atol=1e-5)
    assert not torch.equal(_weights(fused), _weights(reference))  # ... not to the bit


def _older_manual_checkpoints(config: Config, tmp_path: Path) -> list[Path]:
    """Checkpoints of a manual-engine run as looplab wrote them before the fused rules: the
    engine with torch.optim's Adam and, with a schedule, torch's scheduler."""
    data = load_prepared(config)
    built = build(_model(config), data, config.replace(engine="autograd"))
    model = built.model
    forward, loss_fn = manual_engine(model, data.task)
    saver = Checkpointer(tmp_path, every_steps=7, keep=10)
    loop.fit(
        forward, built.train, loss_fn, built.optimizer, epochs=config.epochs, task=data.task,
        val_batches=built.val, scheduler=built.scheduler, callbacks=[saver],
    )  # fmt: skip
    return saver.written


def test_an_older_manual_engine_checkpoint_resumes_with_the_fused_rule(tmp_path: Path) -> None:
    config = _config(engine="manual", optimizer="adam")
    path = _older_manual_checkpoints(config, tmp_path)[1]
    straight = _model(config)
    history = fit(straight, data := load_prepared(config), config)
    resumed = _model(config)
    again = fit(resumed, data, config, resume=path)
    torch.testing.assert_close(_weights(resumed), _weights(straight), rtol=0, atol=1e-5)
    for a, b in zip(again.without_timing(), history.without_timing(), strict=True):
        assert a == pytest.approx(b, rel=1e-4)


def test_an_older_manual_engine_checkpoint_with_a_torch_schedule_is_refused_in_one_line(
    tmp_path: Path,
) -> None:
    config = _config(engine="manual", optimizer="adam", schedule="cosine")
    path = _older_manual_checkpoints(config, tmp_path)[1]
    with pytest.raises(ConfigError) as info:
        fit(_model(config), load_prepared(config), config, resume=path)
    message = str(info.value)
    assert "written by torch's schedulers and this run steps looplab's" in message
    assert "\n" not in message


def test_a_scratch_checkpoint_under_torch_optim_is_refused_in_one_line(tmp_path: Path) -> None:
    config = _config(optimizer="momentum", impl="scratch")
    data = load_prepared(config)
    saver = Checkpointer(tmp_path, every_steps=7, extra={"config": config.to_dict()})
    fit(_model(config), data, config, [saver])
    with pytest.raises(ConfigError) as info:
        fit(_model(config), data, config.replace(impl="torch"), resume=saver.written[-1])
    assert "impl ('scratch' -> 'torch')" in str(info.value) and "\n" not in str(info.value)
