"""The checker is honest: every starter fails, every reference passes, and planted mistakes
fail with the hint that names them."""

from __future__ import annotations

import doctest
import textwrap
from pathlib import Path

import pytest
import torch

from looplab.lessons.catalogue import exercise, written
from looplab.lessons.exercise import Exercise, starter_text
from looplab.lessons.runner import check_file

EXERCISES = [ex for lesson in written() for ex in lesson.exercises]
IDS = [ex.id for ex in EXERCISES]


def _write(tmp_path: Path, ex: Exercise, body: str) -> Path:
    path = tmp_path / ex.file_name
    imports = "\n".join([*ex.imports, "import torch.nn.functional as F"])
    path.write_text(f"{imports}\n\n\n{textwrap.dedent(body)}")
    return path


def test_module_1_has_at_least_eight_exercises_one_to_three_per_lesson() -> None:
    assert len(EXERCISES) >= 8
    for lesson in written():
        if lesson.id.startswith("1."):
            assert 1 <= len(lesson.exercises) <= 3, lesson.id
    assert len(set(IDS)) == len(IDS)


@pytest.mark.parametrize("ex", EXERCISES, ids=IDS)
def test_the_starter_fails_and_the_reference_passes(ex: Exercise, tmp_path: Path) -> None:
    starter = tmp_path / "starter" / ex.file_name
    starter.parent.mkdir()
    starter.write_text(starter_text(ex))
    result = check_file(ex, starter)
    assert result.status == "fail"
    assert "not written yet" in result.tests[0].message
    reference = tmp_path / ex.file_name
    reference.write_text(starter_text(ex).split("\n\n\ndef ")[0] + "\n\n\n" + _source(ex))
    passed = check_file(ex, reference)
    assert passed.status == "pass", [t.message for t in passed.failed]
    assert len(passed.tests) >= 3  # several seeded inputs, several shapes


def _source(ex: Exercise) -> str:
    import inspect

    return textwrap.dedent(inspect.getsource(ex.solution))


@pytest.mark.parametrize("ex", EXERCISES, ids=IDS)
def test_the_worked_example_in_each_docstring_is_true(ex: Exercise) -> None:
    finder = doctest.DocTestFinder()
    tests = finder.find(ex.solution, ex.function, globs={"torch": torch, ex.function: ex.solution})
    assert tests and tests[0].examples, f"{ex.id} has no worked example"
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    assert runner.failures == 0


# exercise id -> (planted wrong solution, words its hint must contain)
PLANTED: dict[str, list[tuple[str, str]]] = {
    "1.1.1": [
        ("def sgd_step(param, grad, lr):\n    return param + lr * grad\n", "stepped uphill"),
        (
            "def sgd_step(param, grad, lr):\n    return param - grad\n",
            "scale the step by the learning rate",
        ),
    ],
    "1.1.2": [
        (
            """
            def training_step(model, optimizer, x, y):
                loss = F.mse_loss(model(x), y)
                loss.backward()  # planted: no optimizer.zero_grad()
                optimizer.step()
                return loss.item()
            """,
            "gradients add up across backward calls",
        ),
        (
            """
            def training_step(model, optimizer, x, y):
                loss = F.mse_loss(model(x), y)
                loss.backward()
                optimizer.zero_grad()  # planted: between backward and step
                optimizer.step()
                return loss.item()
            """,
            "the weights did not move",
        ),
    ],
    "1.2.1": [
        (
            "def mse_loss(pred, target):\n    return ((pred - target) ** 2).sum()\n",
            "you summed the squared errors",
        ),
        (
            "def mse_loss(pred, target):\n    return (pred - target).abs().mean()\n",
            "square each difference",
        ),
        (
            "def mse_loss(pred, target):\n    return ((pred - target) ** 2).mean().sqrt()\n",
            "that is the RMSE",
        ),
    ],
    "1.2.2": [
        (
            """
            def mse_grad(X, y, w, b):
                r = y - (X @ w + b)  # planted: target - prediction
                return 2 / len(X) * (X.T @ r), 2 / len(X) * r.sum()
            """,
            "the sign is flipped",
        ),
        (
            """
            def mse_grad(X, y, w, b):
                r = X @ w + b - y
                return 2 / len(X) * (X @ r), 2 / len(X) * r.sum()  # planted: no transpose
            """,
            "the weights' gradient is X.T @ r",
        ),
        (
            """
            def mse_grad(X, y, w, b):
                r = X @ w + b - y
                return 2 * (X.T @ r), 2 * r.sum()  # planted: a sum, not a mean
            """,
            "you summed over the rows",
        ),
    ],
    "1.2.3": [
        (
            """
            def full_batch_descent(X, y, lr, epochs):
                w, b = torch.zeros(X.shape[1]), torch.zeros(())
                for _ in range(epochs + 1):  # planted: off by one
                    r = X @ w + b - y
                    w, b = w - lr * 2 / len(X) * (X.T @ r), b - lr * 2 / len(X) * r.sum()
                return w, b
            """,
            "one update too many",
        ),
        (
            """
            def full_batch_descent(X, y, lr, epochs):
                w, b = torch.zeros(X.shape[1]), torch.zeros(())
                for _ in range(epochs):
                    r = X @ w + b - y
                    w, b = w + lr * 2 / len(X) * (X.T @ r), b + lr * 2 / len(X) * r.sum()
                return w, b
            """,
            "move uphill",
        ),
    ],
    "1.3.1": [
        (
            """
            def minibatches(n, batch_size, generator):
                order = torch.randperm(n, generator=generator)
                return [order[s : s + batch_size] for s in range(0, n - batch_size + 1, batch_size)]
            """,
            "the last, short batch is missing",
        ),
        (
            """
            def minibatches(n, batch_size, generator):
                order = torch.arange(n)  # planted: no shuffle
                return [order[s : s + batch_size] for s in range(0, n, batch_size)]
            """,
            "shuffle",
        ),
        (
            """
            def minibatches(n, batch_size, generator):
                order = torch.randint(0, n, (n,), generator=generator)  # with replacement
                return [order[s : s + batch_size] for s in range(0, n, batch_size)]
            """,
            "sample without replacement",
        ),
        (
            """
            def minibatches(n, batch_size, generator):
                order = torch.randperm(n)  # planted: the global generator
                return [order[s : s + batch_size] for s in range(0, n, batch_size)]
            """,
            "use the generator you are given",
        ),
    ],
    "1.3.2": [
        (
            """
            def minibatch_epoch(X, y, w, b, lr, batches):
                for idx in batches:
                    r = X @ w + b - y  # planted: every row, every step
                    w, b = w - lr * 2 / len(X) * (X.T @ r), b - lr * 2 / len(X) * r.sum()
                return w, b
            """,
            "only its batch's rows",
        ),
        (
            """
            def minibatch_epoch(X, y, w, b, lr, batches):
                for idx in batches:
                    r = X[idx] @ w + b - y[idx]
                    w, b = w - lr * 2 * (X[idx].T @ r), b - lr * 2 * r.sum()  # planted: sum
                return w, b
            """,
            "divide by the batch's size",
        ),
    ],
    "1.4.1": [
        (
            """
            def loss_grid(x, y, ws, bs):
                pred = ws[:, None, None] * x + bs[None, :, None]  # planted: (W, B, N)
                return ((pred - y) ** 2).mean(dim=-1)
            """,
            "rows follow b and columns follow w",
        ),
        (
            """
            def loss_grid(x, y, ws, bs):
                pred = ws[None, :, None] * x + bs[:, None, None]
                return ((pred - y) ** 2).sum(dim=-1)  # planted: sum
            """,
            "average over the N points",
        ),
    ],
    "1.5.1": [
        (
            """
            def numerical_gradient(f, x, eps):
                g = torch.zeros_like(x)
                for i in range(x.numel()):
                    e = torch.zeros_like(x).reshape(-1)
                    e[i] = eps
                    g.reshape(-1)[i] = (f(x + e.reshape(x.shape)) - f(x)) / eps  # one-sided
                return g
            """,
            "use the central difference",
        ),
        (
            """
            def numerical_gradient(f, x, eps):
                g = torch.zeros_like(x)
                flat = x.reshape(-1)
                for i in range(x.numel()):
                    flat[i] += eps
                    up = f(x)
                    flat[i] -= 2 * eps  # planted: never put back
                    g.reshape(-1)[i] = (up - f(x)) / (2 * eps)
                return g
            """,
            "put each entry back",
        ),
    ],
    "1.5.2": [
        (
            """
            def relative_error(analytic, numeric, floor=1e-3):
                scale = torch.maximum(analytic.abs(), numeric.abs())  # planted: no floor
                return ((analytic - numeric).abs() / scale).max()
            """,
            "keep the floor",
        ),
        (
            """
            def relative_error(analytic, numeric, floor=1e-3):
                scale = torch.maximum(analytic.abs(), numeric.abs()).clamp_min(floor)
                return ((analytic - numeric).abs() / scale).mean()  # planted: mean
            """,
            "report the worst entry",
        ),
    ],
    "1.6.1": [
        (
            """
            def fit_line_sgd(X, y, lr, epochs, batch_size, generator):
                n, d = X.shape
                w, b = torch.zeros(d), torch.zeros(())
                for _ in range(epochs):
                    order = torch.randperm(n, generator=generator)
                    for s in range(0, n, batch_size):
                        idx = order[s : s + batch_size]
                        r = X[idx] @ w + b - y[idx]
                        w = w + lr * 2 / len(idx) * (X[idx].T @ r)  # planted: uphill
                        b = b + lr * 2 / len(idx) * r.sum()
                return w, b
            """,
            "the loss grew",
        ),
        (
            """
            def fit_line_sgd(X, y, lr, epochs, batch_size, generator):
                n, d = X.shape
                w, b = torch.zeros(d), torch.zeros(())
                order = torch.randperm(n, generator=generator)
                for s in range(0, n, batch_size):  # planted: one epoch only
                    idx = order[s : s + batch_size]
                    r = X[idx] @ w + b - y[idx]
                    w = w - lr * 2 / len(idx) * (X[idx].T @ r)
                    b = b - lr * 2 / len(idx) * r.sum()
                return w, b
            """,
            "not there yet",
        ),
    ],
}

PLANTED_CASES = [(i, body, words) for i, plants in PLANTED.items() for body, words in plants]


def test_every_exercise_has_a_planted_mistake() -> None:
    assert set(PLANTED) == set(IDS)


@pytest.mark.parametrize(
    ("exercise_id", "body", "words"),
    PLANTED_CASES,
    ids=[f"{c[0]}-{c[2][:24]}" for c in PLANTED_CASES],
)
def test_a_planted_mistake_fails_with_the_hint_that_names_it(
    exercise_id: str, body: str, words: str, tmp_path: Path
) -> None:
    ex = exercise(exercise_id)
    result = check_file(ex, _write(tmp_path, ex, body))
    assert result.status == "fail"
    assert words in result.hint, (result.hint, [t.message for t in result.failed])


def test_a_hint_fires_only_for_its_own_mistake(tmp_path: Path) -> None:
    """A wrong answer that is none of the known mistakes gets no mistake's hint (the CLI then
    shows the ordered hints)."""
    ex = exercise("1.2.1")
    body = "def mse_loss(pred, target):\n    return ((pred - target) ** 2).mean() + 0.5\n"
    result = check_file(ex, _write(tmp_path, ex, body))
    assert result.status == "fail"
    assert result.hint == ""
