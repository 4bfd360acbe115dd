"""Module 3's lessons in fast mode: the numbers each one claims hold against oracles computed
here another way (torch.optim, torch.optim.lr_scheduler, torch.nn.init, closed forms, plain
torch loops)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.lessons.lesson import DemoResult
from looplab.models.mlp import ModelSpec, build_model
from looplab.run.fit import fit

Runs = dict[str, dict[str, DemoResult]]
Tensor2 = tuple[float, torch.Tensor]


# ---------------------------------------------------------------- 3.1


def test_3_1_the_scratch_rules_equal_torch_optim_to_rounding(runs: Runs) -> None:
    r = runs["3.1"]["scratch_equals_torch"]
    gaps = [n for n in r.numbers if n.name.startswith("max |scratch - torch.optim|")]
    assert len(gaps) == 5
    assert all(n.value < 1e-12 for n in gaps), gaps


def _valley(optimizer: type[torch.optim.Optimizer], steps: int, **settings: Any) -> Tensor2:
    """The race's landscape by torch.optim: (loss after ``steps`` steps, final point)."""
    w = torch.tensor([-4.0, 1.0], dtype=torch.float64, requires_grad=True)
    opt = optimizer([w], **settings)
    for _ in range(steps):
        loss = 0.5 * (w[0] ** 2 + 100 * w[1] ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    w = w.detach()
    return float(0.5 * (w[0] ** 2 + 100 * w[1] ** 2)), w


def test_3_1_the_valley_race_matches_torch_optim_and_the_closed_form(runs: Runs) -> None:
    r = runs["3.1"]["race_in_a_valley"]
    steps = 200
    expected = {
        "SGD": _valley(torch.optim.SGD, steps, lr=0.019),
        "momentum": _valley(torch.optim.SGD, steps, lr=0.019, momentum=0.9),
        "RMSProp": _valley(torch.optim.RMSprop, steps, lr=0.03),
        "Adam": _valley(torch.optim.Adam, steps, lr=0.1),
    }
    for name, (loss, _) in expected.items():
        assert r[f"loss after {steps} steps, {name}"] == pytest.approx(loss, rel=1e-6), name
    # gradient descent on the quadratic: x_t = (1 - lr)^t x_0, y_t = (1 - 100 lr)^t y_0
    assert r["SGD's x after the race"] == pytest.approx(-4 * (1 - 0.019) ** steps, rel=1e-9)
    closed = 0.5 * ((4 * 0.981**steps) ** 2 + 100 * (0.9**steps) ** 2)
    assert r[f"loss after {steps} steps, SGD"] == pytest.approx(closed, rel=1e-9)
    for name in ("momentum", "Adam", "RMSProp"):  # each beats plain SGD in the valley
        assert r[f"loss after {steps} steps, {name}"] < r[f"loss after {steps} steps, SGD"] / 100


def test_3_1_on_the_default_job_sgd_lags_at_the_same_lr(runs: Runs) -> None:
    r = runs["3.1"]["optimizers_on_the_default_job"]
    # Adam's run again, with looplab's from-scratch Adam instead of torch.optim's
    config = Config(epochs=15, device="cpu", lr=0.01, optimizer="adam", impl="scratch")
    data = load_prepared(config)
    history = fit(build_model(ModelSpec(2, 1, (16, 16)), seed=0), data, config)
    assert r["validation loss, adam"] == pytest.approx(history.last["val_loss"], rel=1e-4)
    sgd = r["validation loss, sgd"]
    for name in ("momentum", "nesterov", "rmsprop", "adam"):
        assert r[f"validation loss, {name}"] < sgd, name


# ---------------------------------------------------------------- 3.2


def test_3_2_the_scratch_schedules_equal_torchs_and_start_where_the_formulas_say(
    runs: Runs,
) -> None:
    r = runs["3.2"]["schedule_curves"]
    for name in ("step", "exponential", "cosine", "warmup_cosine", "one_cycle"):
        assert r[f"max |scratch - torch| / lr, {name}"] < 1e-12, name
    warmup_updates = 3 * 8
    assert r["warmup_cosine, first lr"] == pytest.approx(0.1 / (warmup_updates + 1), rel=1e-12)
    assert r["one_cycle, first lr"] == pytest.approx(0.1 / 25, rel=1e-12)


def test_3_2_decaying_schedules_settle_the_loss_and_the_runs_are_real(runs: Runs) -> None:
    r = runs["3.2"]["schedules_on_the_default_job"]
    constant = r["validation loss jitter, constant"]
    for name in ("step", "cosine", "warmup_cosine", "one_cycle"):
        assert r[f"validation loss jitter, {name}"] < 0.75 * constant, name
        assert r[f"final training loss, {name}"] < r["final training loss, constant"], name
    # the cosine run again with looplab's from-scratch Adam and cosine instead of torch's
    config = Config(epochs=12, device="cpu", lr=0.03, schedule="cosine", impl="scratch")
    history = fit(build_model(ModelSpec(2, 1, (16, 16)), seed=0), load_prepared(config), config)
    assert r["final training loss, cosine"] == pytest.approx(history.last["train_loss"], rel=1e-4)


def test_3_2_the_lr_finders_suggestion_trains_best_of_three(runs: Runs) -> None:
    r = runs["3.2"]["lr_finder"]
    assert r["model unchanged by the test"] == 1.0
    assert 1e-3 < r["suggested lr"] < 1.0
    at = {f: r[f"validation loss at {f:g} x the suggestion"] for f in (0.1, 1.0, 10.0)}
    assert at[1.0] < at[0.1] and at[1.0] < at[10.0], at
