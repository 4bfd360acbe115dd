"""Lessons 3.5 (data parallelism and hardware) and 3.7 (modern regularization) in fast mode: the
numbers each one claims hold against oracles computed here another way (DistributedSampler,
autograd, torch.optim, torch.nn.functional, a plain one-process run)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch.utils.data import DistributedSampler

from looplab.lessons.lesson import DemoResult
from looplab.models.mlp import ModelSpec, build_model

Runs = dict[str, dict[str, DemoResult]]


def _sentence(result: DemoResult, name: str) -> str:
    return next(n.sentence for n in result.numbers if n.name == name)


# ---------------------------------------------------------------- 3.5


def test_3_5_equal_shards_average_to_the_full_gradient_unequal_ones_do_not(runs: Runs) -> None:
    r = runs["3.5"]["shards_average_to_the_full_batch"]
    for shards in (2, 4):
        assert r[f"max |mean of {shards} shard gradients - full-batch gradient|"] < 1e-15
    assert r["max |row-weighted mean of unequal shards - full|"] < 1e-15
    assert r["max |plain mean of unequal shards - full|"] > 1e-3  # a real error, not rounding


def test_3_5_each_rank_gets_what_distributed_sampler_deals(runs: Runs) -> None:
    r = runs["3.5"]["shards_average_to_the_full_batch"]
    for rank in range(3):
        rows: Any = range(10)  # a sized dataset
        dealt: list[int] = list(DistributedSampler(rows, num_replicas=3, rank=rank, shuffle=False))
        assert r[f"rank {rank} of 3: rows"] == len(dealt) == math.ceil(10 / 3)
        assert f"rows {dealt} of 0..9" in _sentence(r, f"rank {rank} of 3: rows")
        assert f"ShardedBatches gives {dealt}" in _sentence(r, f"rank {rank} of 3: rows")
        assert r[f"rank {rank} of 3: rows where looplab differs from torch"] == 0


def test_3_5_two_real_processes_end_with_the_one_process_weights(runs: Runs) -> None:
    r = runs["3.5"]["two_processes_train_as_one"]
    assert r["max |2 processes - 1 process| weight"] < 1e-5  # float32 rounding, 50 Adam steps
    ratio = r["2 processes' seconds / 1 process's"]
    assert ratio > 0
    said = _sentence(r, "2 processes' seconds / 1 process's")
    assert ("slower" in said) == (ratio > 1)
    assert r["all-reduce of the gradient, ms a step"] > 0
    # timings are the machine's (no bound on them here): the words must follow the numbers
    steps = r["step on 16 rows / step on 32 rows"]
    said_steps = _sentence(r, "step on 16 rows / step on 32 rows")
    saved = f"saves {100 * (1 - steps):.0f}% of the step" if steps < 1 else "saves nothing"
    assert saved in said_steps
    assert ("costs almost a whole step" in said_steps) == (steps > 0.75)
    # the bandwidth model: 2 (N - 1) / N G / W, here N = 2 and W = 10 Gbit/s = 1.25e9 bytes/s
    modelled = (
        r["all-reduce of the gradient, ms a step"]
        / 1e3
        / r["measured all-reduce / bandwidth model's"]
    )
    model = build_model(ModelSpec(2, 1, (16, 16)), seed=0)
    gradient_bytes = 4 * sum(p.numel() for p in model.parameters())
    said = _sentence(r, "all-reduce of the gradient, ms a step")
    assert f"{gradient_bytes} bytes" in said
    assert modelled == pytest.approx(gradient_bytes / 1.25e9, rel=1e-6)


def test_3_5_large_products_run_far_faster_than_the_small_models_step(runs: Runs) -> None:
    r = runs["3.5"]["where_the_time_goes"]
    model = build_model(ModelSpec(2, 1, (16, 16)), seed=0)
    weights = sum(p.numel() for name, p in model.named_parameters() if name.endswith("weight"))
    flops = 3 * 2 * 32 * weights  # forward and backward of 32 rows
    assert f"{flops} operations" in _sentence(r, "GFLOP/s of the default job's training step")
    step = r["GFLOP/s of the default job's training step"]
    assert 0 < step < r["GFLOP/s, float32, n = 512"] / 10
    for n in (64, 256, 512):
        assert r[f"bfloat16 / float32 speed, n = {n}"] > 0
    assert r["CUDA available"] == float(torch.cuda.is_available())


# ---------------------------------------------------------------- 3.7


def test_3_7_the_smoothed_loss_is_torchs_and_smoothing_lowers_confidence(runs: Runs) -> None:
    r = runs["3.7"]["label_smoothing"]
    assert r["|looplab's smoothed loss - F.cross_entropy|"] < 1e-12
    assert r["|closed form - F.cross_entropy|"] < 1e-12
    assert r["largest confidence a smoothed target asks for"] == pytest.approx(1 - 0.1 + 0.1 / 10)
    plain = r["mean confidence on validation, no smoothing"]
    smoothed = r["mean confidence on validation, smoothing 0.1"]
    assert 0.1 < smoothed < plain < 1  # above chance (10 classes), below the unsmoothed run


def test_3_7_mixup_and_shifts_follow_their_formulas(runs: Runs) -> None:
    r = runs["3.7"]["mixup_and_augmentation"]
    assert r["max |mixed x - (lam x + (1 - lam) x[partner])|"] < 1e-6
    assert r["max |mixed y - (lam onehot(y) + (1 - lam) onehot(y[partner]))|"] < 1e-6
    assert r["max |2 px shift - the image moved 2 columns right|"] < 1e-4  # float32 sampling


def test_3_7_adamw_decays_in_proportion_adam_l2_by_about_lr_a_step(runs: Runs) -> None:
    r = runs["3.7"]["adamw_is_not_adam_l2"]
    for w0 in ("0.01", "1", "100"):  # AdamW's closed form with no loss gradient
        assert r[f"AdamW: w / w0 after 100 steps, w0 = {w0}"] == pytest.approx(0.999**100)
    assert r["AdamW: how far w0 = 100 moved / how far w0 = 1 moved"] == pytest.approx(100)
    # Adam + L2 on w0 = 100: g = 0.1 w stays near 10, so m_hat / sqrt(v_hat) stays near 1 and
    # each of the 100 steps moves lr = 0.01
    assert r["Adam + L2: w0 - w after 100 steps, w0 = 100"] == pytest.approx(1.0, rel=0.01)
    assert r["Adam + L2: how far w0 = 100 moved / how far w0 = 1 moved"] < 2
    assert r["max |Adam + L2 - AdamW| weight"] > 1e-3
    # the L2 gradient, normalized, pulls every weight by about lr a step: the smaller network
    assert r["weight norm after training, adam"] < r["weight norm after training, adamw"]


def test_3_7_the_averages_are_measured_and_said_as_measured(runs: Runs) -> None:
    r = runs["3.7"]["ema_and_swa"]
    for kind in ("EMA", "SWA"):
        loss = r[f"validation loss, {kind} - last weights"]
        assert math.isfinite(loss) and abs(r[f"validation accuracy, {kind} - last weights"]) < 0.5
        said = _sentence(r, f"validation loss, {kind} - last weights")
        assert said.split(": ", 1)[1].startswith("lower") == (loss < 0)
    assert "2 epoch ends averaged (epochs 1-2)" in _sentence(
        r, "validation accuracy, SWA - last weights"
    )


def test_3_7_the_remedies_table_is_the_regularize_experiments(runs: Runs) -> None:
    from looplab.experiments.image_regularization import image_config, run_image_remedy

    r = runs["3.7"]["remedies_over_seeds"]
    names = [n.name.removeprefix("gap, ") for n in r.numbers if n.name.startswith("gap, ")]
    assert names == [
        "none", "AdamW 0.1", "label smoothing 0.1", "mixup 0.2", "augmentation 2 px, 10 deg"
    ]  # fmt: skip
    none = run_image_remedy("none", image_config(fast=True).replace(seed=0).validate())
    assert r["validation accuracy, none"] == pytest.approx(none.val_accuracy, abs=1e-9)
    assert r["gap, none"] == pytest.approx(none.train_accuracy - none.val_accuracy, abs=1e-9)
    for name in names:
        assert 0.1 < r[f"validation accuracy, {name}"] <= 1
