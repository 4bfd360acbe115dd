"""Module 3's lessons in fast mode: the numbers each one claims hold against oracles computed
here another way (torch.optim, torch.optim.lr_scheduler, torch.nn.init, closed forms, plain
torch loops)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.experiments.sine_width import sine_data, sine_model
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


# ---------------------------------------------------------------- 3.3


def test_3_3_equal_starts_stay_equal_and_zeros_guess_the_commoner_class(runs: Runs) -> None:
    r = runs["3.3"]["symmetry"]
    assert r["distinct units in hidden layer 1, default"] == 16
    assert r["distinct units in hidden layer 1, constant"] == 1
    assert r["distinct units in hidden layer 1, zeros"] == 1
    val = load_prepared(Config()).val
    assert val is not None
    share = float(val.y.mean())  # type: ignore[union-attr]
    assert r["validation accuracy, zeros"] == pytest.approx(max(share, 1 - share), abs=1e-9)
    assert r["validation accuracy, default"] > r["validation accuracy, constant"]


def _relu_growth(init: Callable[[torch.Tensor], object], width: int, depth: int) -> float:
    """The rms growth per layer of a ReLU stack initialized by a torch.nn.init function."""
    g = torch.Generator().manual_seed(1)
    h = torch.randn(512, width, generator=g, dtype=torch.float64)
    first = last = 0.0
    for layer in range(depth):
        W = torch.empty(width, width, dtype=torch.float64)
        init(W)
        h = torch.relu(h @ W.T)
        last = float(h.pow(2).mean().sqrt())
        first = last if layer == 0 else first
    return float((last / first) ** (1 / (depth - 1)))


def test_3_3_the_signals_growth_per_layer_matches_the_closed_forms(runs: Runs) -> None:
    r = runs["3.3"]["variance_by_depth"]
    width = 128  # fast mode
    assert r["relu, normal: growth per layer"] == pytest.approx(math.sqrt(width / 2), rel=0.1)
    assert r["relu, xavier_normal: growth per layer"] == pytest.approx(math.sqrt(0.5), rel=0.1)
    # the same stacks drawn by torch.nn.init, from another seed
    torch_xavier = _relu_growth(torch.nn.init.xavier_normal_, width, 20)
    assert r["relu, xavier_normal: growth per layer"] == pytest.approx(torch_xavier, rel=0.05)
    torch_normal = _relu_growth(torch.nn.init.normal_, width, 20)
    assert r["relu, normal: growth per layer"] == pytest.approx(torch_normal, rel=0.05)
    assert 0.4 < r["rms after layer 20, kaiming_normal, relu"] < 2.5
    assert r["rms after layer 20, zeros, relu"] == 0.0
    assert r["rms after layer 20, zeros, tanh"] == 0.0
    assert 0.9 < r["rms after layer 20, normal, tanh"] < 1.0  # saturated at +-1


def _plain_sine_loss(init: str, seed: int, epochs: int) -> float:
    """Lesson 2.3's network by a plain torch loop: full-batch SGD on MSE, lr 1e-2."""
    model = sine_model(50, seed, init)
    data = sine_data()
    x, y = data.train.X, data.train.y  # type: ignore[union-attr]
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-2)
    loss = torch.tensor(0.0)
    for _ in range(epochs):
        loss = torch.nn.functional.mse_loss(model(x)[:, 0], y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return float(loss.detach())


def test_3_3_default_and_xavier_fix_the_sine_run_randn_and_kaiming_do_not(runs: Runs) -> None:
    r = runs["3.3"]["sine_fixed_by_init"]
    seeds = 2  # fast mode
    assert r["runs that diverged, randn"] == seeds
    assert r["runs that diverged, kaiming_normal"] == seeds
    assert r["runs that diverged, default"] == 0
    assert r["runs that diverged, xavier_normal"] == 0
    fc1 = sine_model(50, 0, "kaiming_normal").linear(1).weight.detach()  # (50, 1): fan_in 1
    assert float(fc1.std()) > 1.0  # larger than randn's std 1
    assert not math.isfinite(_plain_sine_loss("kaiming_normal", 0, 200))
    assert _plain_sine_loss("xavier_normal", 0, 200) < 0.5


# ---------------------------------------------------------------- 3.4


def _hand_gradient_ratio(activation: str, residual: bool) -> float:
    """fc1's / fc21's weight-gradient norm for lesson 3.4's 2-(32 x 20)-1 net, its forward
    written out here (h <- act(W h + b), plus h with residual) on the model's weights."""
    model = build_model(ModelSpec(2, 1, (32,) * 20, activation, residual=residual), seed=0)
    weights = [(model.linear(i).weight, model.linear(i).bias) for i in range(1, 22)]
    params = [(W.detach().clone().requires_grad_(), b.detach().clone()) for W, b in weights]
    act = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[activation]
    train = load_prepared(Config()).train
    h, y = train.X[:256], train.y[:256]  # type: ignore[union-attr]
    for i, (W, b) in enumerate(params[:-1]):
        out = act(h @ W.T + b)
        h = h + out if residual and i > 0 else out  # fc1 (2 -> 32) has no skip
    W, b = params[-1]
    loss = torch.nn.functional.binary_cross_entropy_with_logits((h @ W.T + b)[:, 0], y)
    grads = torch.autograd.grad(loss, [params[0][0], params[-1][0]])
    return float(grads[0].norm() / grads[1].norm())


def test_3_4_the_gradient_vanishes_through_sigmoids_and_the_fixes_keep_it(runs: Runs) -> None:
    r = runs["3.4"]["gradient_norm_by_layer"]
    for activation, variant, residual in (
        ("sigmoid", "plain", False),
        ("tanh", "plain", False),
        ("sigmoid", "residual", True),
        ("relu", "residual", True),
    ):
        measured = r[f"fc1 / fc21 gradient norm, {activation}, {variant}"]
        assert measured == pytest.approx(_hand_gradient_ratio(activation, residual), rel=1e-3)
    assert r["fc1 / fc21 gradient norm, sigmoid, plain"] < 1e-12
    assert r["fc1 / fc21 gradient norm, sigmoid, residual"] > 1e-4
    for activation in ("sigmoid", "tanh", "relu"):
        assert 0.1 < r[f"fc1 / fc21 gradient norm, {activation}, batch norm"] < 100
        plain = r[f"fc1 / fc21 gradient norm, {activation}, plain"]
        assert r[f"fc1 / fc21 gradient norm, {activation}, residual"] > 100 * plain


def test_3_4_the_plain_deep_sigmoid_net_stays_at_chance_the_fixed_ones_learn(runs: Runs) -> None:
    r = runs["3.4"]["training_deep_sigmoid"]
    val = load_prepared(Config()).val
    share = float(val.y.mean())  # type: ignore[union-attr]
    chance = max(share, 1 - share)
    assert r["best validation accuracy, plain"] == pytest.approx(chance, abs=1e-9)
    assert r["best validation accuracy, layer norm"] == pytest.approx(chance, abs=1e-9)
    assert r["best validation accuracy, batch norm"] > chance + 0.2
    assert r["best validation accuracy, residual"] > chance + 0.2


# ---------------------------------------------------------------- 3.6


def test_3_6_each_provoked_run_gets_its_own_note_and_its_fix_silences_it(runs: Runs) -> None:
    r = runs["3.6"]["provoke_and_fix"]
    kinds = [n.name.removesuffix(": said") for n in r.numbers if n.name.endswith(": said")]
    assert set(kinds) == {
        "diverging", "plateau", "loss scale", "vanishing gradients", "unstable",
        "underfitting", "overfitting", "dead ReLUs",
    }  # fmt: skip
    for kind in kinds:
        assert r[f"{kind}: said"] == 1.0, kind
        assert r[f"{kind}: notes after the fix"] == 0.0, kind
    said = {n.name: n.sentence for n in r.numbers}
    # the loss-scale note quotes the target's mean: 1e5 plus 1e4 times a mean-zero signal
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 3, generator=g)
    y = 1e4 * (X @ torch.tensor([1.0, -0.5, 0.25]) + 0.3 * torch.randn(200, generator=g)) + 1e5
    assert f"mean {float(y[:160].mean()):.4g}" in said["loss scale: said"]
    assert "lr 50 is too large" in said["diverging: said"]


# ---------------------------------------------------------------- 3.9


def test_3_9_bf16_keeps_the_accuracy_and_rounds_within_its_unit(runs: Runs) -> None:
    r = runs["3.9"]["bf16_on_the_default_job"]
    assert abs(r["validation accuracy, bf16 autocast"] - r["validation accuracy, float32"]) <= 0.02
    assert r["validation accuracy, float32"] > 0.9
    # 8 significant bits: round-to-nearest is within 2^-8 of the value, and 1e5 draws get close
    assert 2**-9 < r["bf16 worst relative rounding"] <= 2**-8
    assert r["bf16 time / float32 time"] > 0


def test_3_9_accumulation_and_resume_are_exact(runs: Runs) -> None:
    a = runs["3.9"]["accumulation_is_a_bigger_batch"]
    assert a["max |gradient of 32 - accumulated 4 x 8|"] < 1e-14
    assert a["max weight difference after an epoch"] < 1e-12
    c = runs["3.9"]["crash_and_resume"]
    assert c["resumed from step"] == 120  # the last multiple of 20 before the crash at 130
    assert c["max |straight - crashed and resumed| weight"] == 0.0
