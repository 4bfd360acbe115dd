"""Every written lesson runs in fast mode, and the numbers it claims hold against oracles
computed here another way (numpy least squares, the noise model, a rebuilt model)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from looplab import loop
from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.data.split import Split
from looplab.inspect.landscape import fixed_batch
from looplab.lessons.catalogue import CATALOGUE, load
from looplab.lessons.lesson import DemoResult
from looplab.lessons.lesson_1_1 import kernel_step_source
from looplab.models.losses import TaskLoss
from looplab.models.mlp import ModelSpec, build_model

WRITTEN = [row.id for row in CATALOGUE if row.written]


def _numpy_line(rows: Split) -> tuple[np.ndarray, float, float]:
    """Least squares by numpy (not torch): coefficients, intercept, mean squared residual."""
    X = rows.X.double().numpy()
    A = np.hstack([X, np.ones((len(X), 1))])
    coef, *_ = np.linalg.lstsq(A, rows.y.double().numpy(), rcond=None)
    residual = A @ coef - rows.y.double().numpy()
    return coef[:-1], float(coef[-1]), float(np.mean(residual**2))


def test_module_1_is_written_in_full() -> None:
    assert WRITTEN[:6] == ["1.1", "1.2", "1.3", "1.4", "1.5", "1.6"]


@pytest.mark.parametrize("lesson_id", WRITTEN)
def test_every_demo_writes_the_figures_it_declares(
    lesson_id: str, runs: dict[str, dict[str, DemoResult]]
) -> None:
    lesson = load(lesson_id)
    for demo in lesson.demos:
        result = runs[lesson_id][demo.function.__name__]
        assert [p.name for p in result.figures] == list(demo.figures)
        for figure in result.figures:
            assert figure.read_bytes()[:4] == b"\x89PNG"
        assert result.numbers, f"{demo.title} measures nothing"
        for number in result.numbers:
            assert math.isfinite(number.value), number
            assert number.sentence.strip(), number


def test_1_1_the_loop_falls_to_the_noise_floor_and_equals_looplab_fit(
    runs: dict[str, dict[str, DemoResult]],
) -> None:
    r = runs["1.1"]["the_five_lines"]
    train = load_prepared(Config(dataset="linear", n=400)).train
    assert isinstance(train, Split)
    *_, floor = _numpy_line(train)
    assert r["best possible loss"] == pytest.approx(floor, rel=1e-5)
    assert r["loss before"] > 10 * r["loss after"]
    assert r["loss after"] == pytest.approx(floor, rel=0.1)
    assert r["max |loop - looplab.loop.fit|"] == 0.0
    broken = runs["1.1"]["without_zero_grad"]
    assert broken["loss without zero_grad"] > 10 * broken["loss with zero_grad"]


def test_1_1_shows_the_kernels_own_step_lines() -> None:
    import inspect

    excerpt = kernel_step_source()
    kernel = inspect.getsource(loop.kernel)
    for line in excerpt.splitlines():
        assert line.strip() in kernel
    for call in (
        "state.model(xb)",
        "state.loss_fn(",
        "zero_grad()",
        ".backward()",
        "optimizer.step()",
    ):
        assert call in excerpt


def test_1_2_the_hand_loop_lands_on_least_squares(runs: dict[str, dict[str, DemoResult]]) -> None:
    r = runs["1.2"]["hand_loop_vs_lstsq"]
    assert r["max |w - w_lstsq|"] < 1e-9
    assert r["|b - b_lstsq|"] < 1e-9
    assert r["steps"] < 2000  # stopped because the gradients vanished, not at the step limit
    assert r["final loss"] == pytest.approx(
        0.3**2, rel=0.25
    )  # the noise variance it was built with
    g = runs["1.2"]["gradients_vs_autograd"]
    assert g["max |dL/dw - autograd|"] < 1e-12
    assert g["|dL/db - autograd|"] < 1e-12


def test_1_3_noise_follows_one_over_root_batch(runs: dict[str, dict[str, DemoResult]]) -> None:
    r = runs["1.3"]["noise_by_batch_size"]
    train = load_prepared(Config(dataset="linear", n=500)).train
    assert isinstance(train, Split)
    coef, intercept, _ = _numpy_line(train)
    per_example = (train.X.double().numpy() @ coef + intercept - train.y.double().numpy()) ** 2
    sigma, n = float(np.std(per_example, ddof=1)), len(train)
    for b in (1, 8):
        predicted = sigma / math.sqrt(b) * math.sqrt((n - b) / (n - 1))
        assert r[f"noise, batch {b}"] == pytest.approx(predicted, rel=0.2), b
    assert r["noise ratio, batch 1 / batch 8"] == pytest.approx(
        math.sqrt(8 * (n - 1) / (n - 8)), rel=0.2
    )
    assert r["noise, batch 1"] > r["noise, batch 8"] > r["noise, batch 32"]
    # the same epochs: many small updates get further than one full-batch update per epoch
    assert r["final loss, batch 1"] < r["final loss, batch full"]


def test_1_4_the_bowl_and_the_slice(runs: dict[str, dict[str, DemoResult]]) -> None:
    r = runs["1.4"]["the_bowl"]
    train = load_prepared(Config(dataset="linear")).train
    assert isinstance(train, Split)
    coef, intercept, floor = _numpy_line(train)
    assert r["optimum w"] == pytest.approx(coef[0], abs=1e-5)
    assert r["optimum b"] == pytest.approx(intercept, abs=1e-5)
    assert r["optimum loss"] == pytest.approx(floor, rel=1e-6)
    finals = [n for n in r.numbers if n.name.startswith("final loss")]
    assert len(finals) == 3
    assert all(n.value >= floor * (1 - 1e-6) for n in finals)

    s = runs["1.4"]["a_network_slice"]
    assert s["loss at alpha 1"] == pytest.approx(s["trained loss"], rel=1e-5)
    assert s["slice minimum"] <= s["trained loss"] + 1e-6
    # alpha 0 is the initial weights: rebuild them and measure on the same fixed batch
    config = Config(dataset="moons", hidden=[16, 16])
    data = load_prepared(config)
    model = build_model(ModelSpec(data.n_features, data.n_outputs, (16, 16)), seed=config.seed)
    X, y = fixed_batch(data)
    with torch.no_grad():
        initial = float(TaskLoss(data.task)(model.eval()(X), y))
    assert s["loss at alpha 0"] == pytest.approx(initial, rel=1e-4)
    assert s["trained loss"] < initial


def test_1_5_gradcheck_passes_the_truth_and_catches_the_bug(
    runs: dict[str, dict[str, DemoResult]],
) -> None:
    r = runs["1.5"]["gradcheck_catches_a_bug"]
    assert r["worst relative error, correct backward"] < 1e-6
    assert r["worst relative error, planted bug"] > 1e-2
    assert r["fc2 errors with the bug"] < 1e-6
    e = runs["1.5"]["error_against_eps"]
    assert e["best error, central"] < 1e-9
    assert e["best error, forward"] > 10 * e["best error, central"]
    assert e["central / forward error at eps 1e-3"] < 1e-2


def test_1_6_the_hand_loop_matches_the_library_and_the_closed_form(
    runs: dict[str, dict[str, DemoResult]],
) -> None:
    r = runs["1.6"]["end_to_end"]
    train = load_prepared(Config(dataset="linear", n=400)).train
    assert isinstance(train, Split)
    *_, floor = _numpy_line(train)
    assert r["least-squares loss"] == pytest.approx(floor, rel=1e-6)
    assert r["hand loop loss"] == pytest.approx(floor, rel=0.1)
    assert r["looplab fit loss"] == pytest.approx(floor, rel=0.1)
    assert r["gradient check"] < 1e-6
