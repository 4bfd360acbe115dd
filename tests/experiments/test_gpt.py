"""The GPT's run path: nanoGPT's weight-decay rule, its learning-rate schedule, the config's
refusals, a tiny run through looplab's loop (accumulating and clipping there), and exact
resume after a crash and a signal inside an accumulation group."""

from __future__ import annotations

import json
import math
import os
import re
import signal
from collections.abc import Callable
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
from looplab.watch.checkpoint import CHECKPOINT_DIR, list_checkpoints, read_checkpoint
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


@pytest.mark.parametrize("warmup", [100, 0])
def test_the_schedule_is_nanogpts_get_lr(warmup: int) -> None:
    config = GPTConfig(iterations=400, eval_every=100, warmup=warmup)
    gpt = build_gpt(GPTSpec(vocab_size=5, context=4, layers=1, heads=1, dim=4), seed=0)
    optimizer = build_optimizer(gpt, config)
    schedule = build_schedule(optimizer, config)
    used = []
    for _ in range(config.iterations):  # what the loop does after each update
        used.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        schedule.after_update()
    for it, lrs in enumerate(used):
        expected = nanogpt_lr(it, config.lr, config.min_lr, warmup, config.iterations)
        assert lrs == pytest.approx([expected, expected], rel=1e-9, abs=1e-12), it


class Rates(Callback):
    """The learning rate of every update a run makes: the first before training, each next one
    after an update (the loop has moved the schedule by then)."""

    def __init__(self) -> None:
        self.lrs: list[float] = []
        self.steps: list[int] = []

    def on_fit_start(self, state: LoopState) -> None:
        self.lrs.append(state.lr)

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: torch.Tensor) -> None:
        self.lrs.append(state.lr)
        self.steps.append(state.step)


def test_with_accumulation_the_schedule_moves_once_per_update(corpus: Path, tmp_path: Path) -> None:
    config = tiny(corpus, tmp_path, accumulate=3, iterations=16, warmup=4, samples_every=0)
    rates = Rates()
    train_gpt(config, [rates])  # 16 updates of 3 batches each
    assert rates.steps == list(range(1, 17))  # one event per update, not per batch
    expected = [nanogpt_lr(it, config.lr, config.min_lr, 4, 16) for it in range(17)]
    assert rates.lrs == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # and the test can fail: a schedule moved per batch would be 3 times as far along
    assert rates.lrs[5] != pytest.approx(nanogpt_lr(15, config.lr, config.min_lr, 4, 16))


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


class AtBatch(Callback):
    """Calls ``act`` in the forward pass of the run's ``at``-th training batch (0-based, counted
    over the whole run): between two events of the loop, e.g. inside an accumulation group."""

    def __init__(self, at: int, act: Callable[[], None]) -> None:
        self.at, self.act, self.seen = at, act, 0

    def on_fit_start(self, state: LoopState) -> None:
        def hook(module: torch.nn.Module, args: object) -> None:
            if module.training:  # evaluation and samples do not count
                if self.seen == self.at:
                    self.act()
                self.seen += 1

        state.model.register_forward_pre_hook(hook)


def crash() -> None:
    raise RuntimeError("killed")  # like a process that dies there


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
    for row in values:  # the loop clips at 1.0 and says how often, and how large the norms are
        assert 0.0 <= row["clip_frac"] <= 1.0 and row["grad_norm"] > 0
    acted = round(sum(row["clip_frac"] for row in values) * 8)
    assert f"the clip acted on {acted} of 24 updates" in (reference / "report.html").read_text()
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


def test_a_run_that_crashed_inside_an_accumulation_group_resumes_to_the_same_bits(
    corpus: Path, reference: Path, tmp_path: Path
) -> None:
    config = tiny(corpus, tmp_path, accumulate=2, checkpoint_steps=3)  # every 3 updates
    with pytest.raises(RuntimeError, match="killed"):
        # batch 41 of the run: epoch 3's batch 9, the second half of its update 5
        train_gpt(config, [AtBatch(41, crash)])
    run = tmp_path / "run"
    assert read_status(run)["status"] == "failed"
    newest = list_checkpoints(run / CHECKPOINT_DIR)[-1]
    assert newest.name == "ckpt-e0002-b000004.pt"  # update 18: epoch 3's first 2 updates
    assert read_checkpoint(newest)["step"] == 18
    resumed = train_gpt(gpt_run_config(run, {}), resume=run)
    assert read_status(run)["status"] == "complete"
    assert_same_run(reference, resumed.run_dir)


def test_a_signal_inside_an_accumulation_group_checkpoints_at_its_end_and_resumes_exactly(
    corpus: Path, reference: Path, tmp_path: Path
) -> None:
    """The loop's events fire once per update, so the checkpoint a signal asks for is written
    when the group it came in has made its update: no partial gradients need to be saved."""
    config = tiny(corpus, tmp_path, accumulate=2)
    with SignalCatcher() as signals, pytest.raises(Interrupted) as caught:
        # a real SIGINT during batch 40: epoch 3's batch 8, the first half of its update 5
        train_gpt(config, [AtBatch(40, lambda: os.kill(os.getpid(), signal.SIGINT))],
                  signals=signals)  # fmt: skip
    assert caught.value.checkpoint is not None
    assert caught.value.checkpoint.name == "ckpt-e0002-b000010.pt"  # after batch 41: update 21
    saved = read_checkpoint(caught.value.checkpoint)
    assert (saved["epoch"], saved["batch"], saved["step"]) == (2, 10, 21)
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
