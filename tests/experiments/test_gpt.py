"""The GPT's run path: nanoGPT's weight-decay rule, its learning-rate schedule, the config's
refusals, a tiny run through looplab's loop, and exact resume after a crash and a signal."""

from __future__ import annotations

import json
import math
import re
import signal
from pathlib import Path
from typing import Any

import pytest
import torch

from looplab.errors import ConfigError, RunError
from looplab.experiments.gpt import (
    build_optimizer,
    build_schedule,
    gpt_run_config,
    optimizer_groups,
    prepare_text,
)
from looplab.experiments.gpt_config import GPTConfig, gpt_config_from_dict
from looplab.gpt_pipeline import train_gpt
from looplab.loop.events import Callback
from looplab.loop.history import History
from looplab.loop.state import LoopState
from looplab.models.gpt import GPTSpec, build_gpt
from looplab.run.directory import read_status
from looplab.watch.checkpoint import CHECKPOINT_DIR, list_checkpoints
from looplab.watch.interrupt import Interrupted, SignalCatcher


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20,000 characters of CPython's help text: a small text file every machine can make."""
    from looplab.data.text import load_corpus

    path = tmp_path_factory.mktemp("text") / "help.txt"
    path.write_text(load_corpus("pydoc").text[:20_000], encoding="utf-8")
    return path


def tiny(corpus: Path, out: Path, **changes: object) -> GPTConfig:
    """A run of a few seconds: 2 layers of 32, 64-character windows, 24 updates."""
    values: dict[str, object] = {
        "corpus": str(corpus), "context": 64, "layers": 2, "heads": 2, "dim": 32,
        "batch_size": 4, "iterations": 24, "eval_every": 8, "warmup": 4, "threads": 1,
        "samples_every": 1, "sample_length": 30, "out": str(out), "name": "run",
    }  # fmt: skip
    return gpt_config_from_dict({**values, **changes}).validate()


def test_weight_decay_goes_to_matrices_and_embeddings_only() -> None:
    gpt = build_gpt(GPTSpec(vocab_size=20, context=8, layers=2, heads=2, dim=8), seed=0)
    decayed, other = optimizer_groups(gpt, 0.1)
    names = {id(p): n for n, p in gpt.named_parameters()}
    assert decayed["weight_decay"] == 0.1 and other["weight_decay"] == 0.0
    matrices = [f"blocks.{i}.{m}.weight" for i in range(2)
                for m in ("attn.qkv", "attn.proj", "mlp.fc", "mlp.proj")]  # fmt: skip
    assert sorted(names[id(p)] for p in decayed["params"]) == sorted(
        ["tokens.weight", "positions.weight", *matrices]
    )
    assert sorted(names[id(p)] for p in other["params"]) == sorted(
        ["norm.weight"] + [f"blocks.{i}.norm{j}.weight" for i in range(2) for j in (1, 2)]
    )
    every = [id(p) for group in (decayed, other) for p in group["params"]]
    assert sorted(every) == sorted(id(p) for p in gpt.parameters())  # each exactly once


def nanogpt_lr(it: int, lr: float, min_lr: float, warmup: int, decay_iters: int) -> float:
    """nanoGPT's get_lr (train.py), as written there."""
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it > decay_iters:
        return min_lr
    ratio = (it - warmup) / (decay_iters - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


@pytest.mark.parametrize(("warmup", "accumulate"), [(100, 1), (0, 1), (10, 3)])
def test_the_schedule_is_nanogpts_get_lr(warmup: int, accumulate: int) -> None:
    config = GPTConfig(iterations=400, eval_every=100, warmup=warmup, accumulate=accumulate)
    gpt = build_gpt(GPTSpec(vocab_size=5, context=4, layers=1, heads=1, dim=4), seed=0)
    optimizer = build_optimizer(gpt, config)
    schedule = build_schedule(optimizer, config)
    used = []
    for _ in range(config.iterations * accumulate):  # what the loop does per batch
        if optimizer.pending == 0:
            used.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        schedule.after_update()
    assert len(used) == config.iterations
    for it, lrs in enumerate(used):
        expected = nanogpt_lr(it, config.lr, config.min_lr, warmup, config.iterations)
        assert lrs == pytest.approx([expected, expected], rel=1e-9, abs=1e-12), it


def test_the_config_refuses_what_cannot_run() -> None:
    cases: dict[str, dict[str, Any]] = {
        "dim 30 does not split into 4 heads": {"dim": 30},
        "iterations (250) must be a multiple of eval_every (100)": {"iterations": 250},
        "warmup (3000) must be shorter than the run": {"warmup": 3000},
        "min_lr must be in [0, lr]": {"min_lr": 0.1},
        "val_fraction must be in (0, 1)": {"val_fraction": 0.0},
        "layers must be a positive whole number": {"layers": 0},
        "clip_norm must be >= 0": {"clip_norm": -1.0},
    }
    for message, change in cases.items():
        with pytest.raises(ConfigError, match=re.escape(message)):
            gpt_config_from_dict(change).validate()
    with pytest.raises(ConfigError, match="unknown gpt config field 'lrr'"):
        gpt_config_from_dict({"lrr": 0.1})
    with pytest.raises(ConfigError, match="layers must be a whole number, got 'four'"):
        gpt_config_from_dict({"layers": "four"})
    assert gpt_config_from_dict({"lr": 1}).lr == 1.0  # TOML's 1 is a float field's 1.0


def test_prepare_text_holds_out_the_end_and_counts_unknown_characters(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text("abcabcabc" * 20 + "abz!")
    data = prepare_text(GPTConfig(corpus=str(tmp_path / "t.txt"), context=4, val_fraction=0.1))
    assert len(data.vocab) == 4 and data.unknown_in_val == "z!"
    assert data.vocab.decode(data.val).endswith("ab\ufffd\ufffd")
    b = data.baselines()
    assert b.uniform == pytest.approx(math.log(4))
    assert b.unigram == pytest.approx(math.log(3), abs=1e-3) and b.bigram == pytest.approx(0.0)


class Crash(Callback):
    """Raises at a chosen step, like a process that dies there."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: torch.Tensor) -> None:
        if state.step == self.at:
            raise RuntimeError("killed")


class Signal(Callback):
    """Delivers a caught SIGINT at a chosen step: the checkpointer saves at the next one."""

    def __init__(self, signals: SignalCatcher, at: int) -> None:
        self.signals, self.at = signals, at

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: torch.Tensor) -> None:
        if state.step == self.at:
            self.signals.signum = signal.SIGINT


def weights(run: Path) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = torch.load(run / "model.pt", weights_only=True)["state_dict"]
    return state


def assert_same_run(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    history = [History.from_csv(p / "history.csv").without_timing() for p in (a, b)]
    assert history[0] == history[1]
    assert json.loads((a / "samples.json").read_text()) == json.loads(
        (b / "samples.json").read_text()
    )


@pytest.fixture(scope="module")
def reference(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    run = train_gpt(tiny(corpus, out, accumulate=2))
    return run.run_dir


def test_a_tiny_run_trains_through_looplabs_loop(reference: Path) -> None:
    rows = [r.split(",") for r in (reference / "history.csv").read_text().splitlines()]
    header, values = rows[0], [dict(zip(rows[0], map(float, r), strict=True)) for r in rows[1:]]
    assert header[:5] == ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"]
    assert len(values) == 3  # 24 updates, evaluated every 8
    samples = json.loads((reference / "samples.json").read_text())
    assert [s["step"] for s in samples] == [0, 8, 16, 24]
    vocab = len(torch.load(reference / "model.pt", weights_only=True)["vocabulary"]) + 1
    untrained = samples[0]["val_loss"]  # evaluated before the first step
    assert abs(untrained - math.log(vocab)) < 0.05 and len(samples[0]["text"]) == 30
    assert samples[-1]["val_loss"] == values[-1]["val_loss"]
    assert values[-1]["val_loss"] < values[0]["val_loss"] < untrained  # it learns
    assert read_status(reference)["kind"] == "gpt"
    report = (reference / "report.html").read_text()
    for part in ("Result", "Loss curves", "Samples", "before training", "after 24 updates",
                 "unigram entropy H1", "bigram entropy H2", "nanoGPT"):  # fmt: skip
        assert part in report


def test_a_run_that_crashed_resumes_to_the_same_bits(
    corpus: Path, reference: Path, tmp_path: Path
) -> None:
    config = tiny(corpus, tmp_path, accumulate=2, checkpoint_steps=3)  # every 6 batches
    with pytest.raises(RuntimeError, match="killed"):
        train_gpt(config, [Crash(at=39)])  # in epoch 3 (16 batches each)
    run = tmp_path / "run"
    assert read_status(run)["status"] == "failed"
    assert list_checkpoints(run / CHECKPOINT_DIR)[-1].name == "ckpt-e0002-b000004.pt"  # step 36
    resumed = train_gpt(gpt_run_config(run, {}), resume=run)
    assert read_status(run)["status"] == "complete"
    assert_same_run(reference, resumed.run_dir)


def test_a_signal_inside_an_accumulation_group_resumes_to_the_same_bits(
    corpus: Path, reference: Path, tmp_path: Path
) -> None:
    config = tiny(corpus, tmp_path, accumulate=2)
    with SignalCatcher() as signals, pytest.raises(Interrupted) as caught:
        train_gpt(config, [Signal(signals, at=20)], signals=signals)
    assert caught.value.checkpoint is not None
    assert caught.value.checkpoint.name == "ckpt-e0001-b000005.pt"  # step 21: half an update
    run = tmp_path / "run"
    assert read_status(run)["status"] == "interrupted"
    resumed = train_gpt(gpt_run_config(run, {}), resume=run)
    assert_same_run(reference, resumed.run_dir)
    with pytest.raises(RunError, match="already complete; sample from it"):
        train_gpt(gpt_run_config(run, {}), resume=run)


def test_resume_refuses_a_change_that_would_change_the_numbers(
    corpus: Path, reference: Path
) -> None:
    with pytest.raises(ConfigError, match=r"lr \(0.001 -> 0.01\) would change the result"):
        gpt_run_config(reference, {"lr": 0.01})
    assert gpt_run_config(reference, {"sample_length": 50}).sample_length == 50
