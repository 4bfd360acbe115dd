"""The checker is honest: every starter fails, every reference passes, and planted mistakes
fail with the hint that names them."""

from __future__ import annotations

import doctest
import inspect
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


def _changed(exercise_id: str, old: str, new: str) -> str:
    """The reference solution of ``exercise_id`` with one piece of it planted wrong."""
    source = textwrap.dedent(inspect.getsource(exercise(exercise_id).solution))
    assert old in source, (exercise_id, old)
    return source.replace(old, new)


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
    "2.1.1": [
        (
            """
            def activation_derivatives(x):
                s, t = torch.sigmoid(x), torch.tanh(x)
                return (x >= 0).float(), s * (1 - s), 1 - t * t  # planted: >= at the kink
            """,
            "ReLU's derivative at exactly 0 is 0",
        ),
        (
            """
            def activation_derivatives(x):
                s, t = torch.sigmoid(x), torch.tanh(x)
                return (x > 0).float(), s, 1 - t * t  # planted: s, not s (1 - s)
            """,
            "you left out the (1 - s)",
        ),
        (
            """
            def activation_derivatives(x):
                s, t = torch.sigmoid(x), torch.tanh(x)
                return (x > 0).float(), s * (1 - s), 1 - t  # planted: no square
            """,
            "the tanh is squared",
        ),
        (
            """
            def activation_derivatives(x):
                return (x > 0).float(), x * (1 - x), 1 - x * x  # planted: from x
            """,
            "you used x itself",
        ),
    ],
    "2.1.2": [
        (
            "def collapse_linear(W1, b1, W2, b2):\n    return W1 @ W2, W2 @ b1 + b2\n",
            "the first layer acts first",
        ),
        (
            "def collapse_linear(W1, b1, W2, b2):\n    return W2 @ W1, b2\n",
            "passes through the second layer too",
        ),
        (
            "def collapse_linear(W1, b1, W2, b2):\n    return W2 @ W1, b1 + b2\n",
            "b1 is in the hidden space",
        ),
    ],
    "2.2.1": [
        (
            """
            def cross_entropy(logits, targets):
                p = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)  # planted
                return -torch.log(p[torch.arange(len(logits)), targets]).mean()
            """,
            "subtract each row's largest logit",
        ),
        (
            """
            def cross_entropy(logits, targets):
                p = torch.softmax(logits, dim=1)  # planted: log of a probability that underflows
                return -torch.log(p[torch.arange(len(logits)), targets]).mean()
            """,
            "softmax then log underflows",
        ),
        (
            """
            def cross_entropy(logits, targets):
                m = logits.max(dim=1, keepdim=True).values
                lse = m[:, 0] + torch.log(torch.exp(logits - m).sum(dim=1))
                return (lse - logits[torch.arange(len(logits)), targets]).sum()  # planted
            """,
            "average the per-row losses",
        ),
        (
            """
            def cross_entropy(logits, targets):
                m = logits.max(dim=1, keepdim=True).values
                lse = m[:, 0] + torch.log(torch.exp(logits - m).sum(dim=1))
                return (logits[torch.arange(len(logits)), targets] - lse).mean()  # planted
            """,
            "has the opposite sign",
        ),
    ],
    "2.2.2": [
        (
            "def linear_backward(x, W, g):\n    return g @ W, x.T @ g, g.sum(0)\n",
            "not x.T @ grad_out",
        ),
        (
            "def linear_backward(x, W, g):\n    return g @ W, g.T @ x, g.mean(0)\n",
            "the sum over the batch",
        ),
        (
            "def linear_backward(x, W, g):\n    return g @ W.T, g.T @ x, g.sum(0)\n",
            "a product whose shapes do not fit",
        ),
    ],
    "2.2.3": [
        (
            """
            def two_layer_forward(x, W1, b1, W2, b2):
                h = torch.relu(x @ W1 + b1)  # planted: W1 not transposed
                return h, h @ W2 + b2
            """,
            "multiply the rows by its transpose",
        ),
        (
            """
            def two_layer_forward(x, W1, b1, W2, b2):
                h = torch.relu(x @ W1.T + b1)
                return h, torch.relu(h @ W2.T + b2)  # planted: relu on the logits
            """,
            "no activation after the last layer",
        ),
        (
            """
            def two_layer_forward(x, W1, b1, W2, b2):
                h = x @ W1.T + b1  # planted: no relu
                return h, h @ W2.T + b2
            """,
            "apply the ReLU to the hidden layer",
        ),
    ],
    "2.3.1": [
        ("def relu_backward(pre, g):\n    return g * (pre >= 0)\n", "mask with pre > 0"),
        ("def relu_backward(pre, g):\n    return (pre > 0).float()\n", "multiply the mask"),
        ("def relu_backward(pre, g):\n    return torch.relu(g)\n", "the mask comes from the"),
    ],
    "2.3.2": [
        (
            _changed(
                "2.3.2",
                "W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2",
                "W1 + lr * dW1, b1 + lr * db1, W2 + lr * dW2, b2 + lr * db2",
            ),
            "moved uphill",
        ),
        (
            _changed("2.3.2", "d_pred = 2 / n * (pred - y)", "d_pred = 2 * (pred - y)"),
            "keep the 1/N",
        ),
        (
            _changed("2.3.2", "d_pred = 2 / n * (pred - y)", "d_pred = (pred - y) / n"),
            "is 2 (pred - y)",
        ),
        (_changed("2.3.2", "(d_pred @ W2) * (pre > 0)", "d_pred @ W2"), "must pass relu's mask"),
    ],
    "2.4.1": [
        (
            "def dead_fraction(pre):\n    return (pre <= 0).float().mean()\n",
            "count units (columns)",
        ),
        (
            "def dead_fraction(pre):\n    return (pre <= 0).any(dim=0).float().mean()\n",
            "not .any(dim=0)",
        ),
        (
            "def dead_fraction(pre):\n    return (pre > 0).any(dim=0).float().mean()\n",
            "counted the units that fire",
        ),
    ],
    "2.4.2": [
        (
            """
            def leaky_relu_with_grad(x, slope):
                return torch.where(x > 0, x, slope * x), (x > 0).float()  # planted
            """,
            "the derivative is the slope",
        ),
        (
            """
            def leaky_relu_with_grad(x, slope):
                return torch.where(x > 0, slope * x, x), torch.where(x > 0, slope, 1.0)
            """,
            "the slope applies where x <= 0",
        ),
    ],
    "2.5.1": [
        (
            _changed("2.5.1", "len(series) - window", "len(series) - window + 1"),
            "the last window has no value",
        ),
        (
            _changed("2.5.1", "len(series) - window", "len(series) - window - 1"),
            "one window is missing",
        ),
        (
            _changed("2.5.1", "series[i + window]", "series[i + window - 1]"),
            "the value after the window",
        ),
    ],
    "2.5.2": [
        (
            _changed("2.5.2", "n - n % batch_size if drop_last else n", "n"),
            "leave out the last batch",
        ),
        (
            _changed("2.5.2", "n - n % batch_size if drop_last else n", "n - n % batch_size"),
            "keep the short last batch",
        ),
        (
            _changed("2.5.2", "n - n % batch_size if drop_last", "n - batch_size if drop_last"),
            "only a *short* last batch",
        ),
        (
            """
            def batches_in_order(X, y, order, batch_size, drop_last):
                n = len(order)
                stop = n - n % batch_size if drop_last else n
                starts = range(0, stop, batch_size)  # planted: rows in stored order, not `order`
                return [(X[s : s + batch_size], y[s : s + batch_size]) for s in starts]
            """,
            "take the rows in the given order",
        ),
    ],
    "2.6.1": [
        (
            "def dropout(x, p, training, u):\n    return x * (u >= p) if training else x\n",
            "divide the kept entries by (1 - p)",
        ),
        (
            "def dropout(x, p, training, u):\n    return x * (u >= p) * (1 - p) if training else x"
            "\n",
            "it does not multiply",
        ),
        (
            "def dropout(x, p, training, u):\n    return x * (u >= p) / (1 - p)\n",
            "dropout does nothing",
        ),
        (
            "def dropout(x, p, training, u):\n    return x * (u < p) / (1 - p) if training else x"
            "\n",
            "p is the probability to drop",
        ),
    ],
    "2.6.2": [
        (
            "def sgd_step_with_decay(w, g, lr, wd):\n    return w - lr * (g - wd * w)\n",
            "pulls w towards 0",
        ),
        (
            "def sgd_step_with_decay(w, g, lr, wd):\n    return w - lr * (g + 2 * wd * w)\n",
            "not 2 * weight_decay * w",
        ),
        (
            "def sgd_step_with_decay(w, g, lr, wd):\n    return w - lr * g - wd * w\n",
            "scaled by lr too",
        ),
    ],
    "2.6.3": [
        (_changed("2.6.3", "if bad >= patience:", "if bad > patience:"), "not one epoch later"),
        (_changed("2.6.3", "if loss < best:", "if loss <= best:"), "a tie does not reset"),
    ],
    "2.7.1": [
        (
            """
            def mlp_forward(x, layers):
                for W, b in layers:
                    x = torch.relu(x @ W.T + b)  # planted: after the last layer too
                return x
            """,
            "no ReLU after the last layer",
        ),
        (
            """
            def mlp_forward(x, layers):
                for W, b in layers:
                    x = x @ W.T + b  # planted: no relu
                return x
            """,
            "put a ReLU between the layers",
        ),
        (
            """
            def mlp_forward(x, layers):
                for i, (W, b) in enumerate(layers):
                    x = x @ W + b  # planted: no transpose
                    x = torch.relu(x) if i < len(layers) - 1 else x
                return x
            """,
            "multiplies W.T",
        ),
    ],
    "3.1.1": [
        (
            _changed("3.1.1", "m / (1 - beta1**t)", "m").replace("v / (1 - beta2**t)", "v"),
            "without the bias correction",
        ),
        (
            _changed("3.1.1", "1 - beta1**t", "1 - beta1 ** (t - 1) + 1e-30").replace(
                "1 - beta2**t", "1 - beta2 ** (t - 1) + 1e-30"
            ),
            "not 1 - beta^(t - 1)",
        ),
        (_changed("3.1.1", "v_hat.sqrt() + eps", "(v_hat + eps).sqrt()"), "not inside it"),
        (_changed("3.1.1", "(1 - beta2) * g * g", "(1 - beta2) * g.abs()"), "squared gradient"),
        (_changed("3.1.1", "m_hat / (v_hat.sqrt() + eps)", "m_hat / v_hat"), "the square root"),
    ],
    "3.1.2": [
        (
            _changed(
                "3.1.2", "momentum * velocity + g", "momentum * velocity + (1 - momentum) * g"
            ),
            "without the (1 - momentum)",
        ),
        (_changed("3.1.2", "return p - lr * velocity", "return p - lr * g"), "not along the"),
        (
            """
            def momentum_step(p, g, velocity, lr, momentum):
                return p - lr * velocity, momentum * velocity + g  # planted: the old velocity
            """,
            "then step along the new one",
        ),
    ],
    "3.2.1": [
        (_changed("3.2.1", "(t + 1) / (warmup + 1)", "t / warmup"), "a wasted step"),
        (
            _changed("3.2.1", "(t - warmup) / (total - warmup)", "t / total"),
            "the cosine starts when the warm-up ends",
        ),
        (
            _changed("3.2.1", "(t - warmup) / (total - warmup)", "(t - warmup) / total"),
            "must head for 0 by the end",
        ),
    ],
    "3.3.1": [
        (
            _changed(
                "3.3.1", "std = gain / math.sqrt(shape[1])", "std = gain / math.sqrt(shape[0])"
            ),
            "not shape[0]",
        ),
        (
            _changed("3.3.1", "std = gain / math.sqrt(shape[1])", "std = gain**2 / shape[1]"),
            "is the variance",
        ),
        (
            _changed("3.3.1", "std = gain / math.sqrt(shape[1])", "std = 1 / math.sqrt(shape[1])"),
            "the activation's gain",
        ),
    ],
    "3.3.2": [
        (
            _changed(
                "3.3.2",
                "math.sqrt(6 / (shape[0] + shape[1]))",
                "math.sqrt(2 / (shape[0] + shape[1]))",
            ),
            "is the std",
        ),
        (
            _changed("3.3.2", "math.sqrt(6 / (shape[0] + shape[1]))", "math.sqrt(6 / shape[1])"),
            "averages both fans",
        ),
    ],
    "3.4.1": [
        (
            _changed(
                "3.4.1",
                "((x - mean) ** 2).mean(dim=-1, keepdim=True)",
                "x.var(dim=-1, keepdim=True)",
            ),
            "the biased variance",
        ),
        (_changed("3.4.1", "dim=-1", "dim=0"), "are batch norm's"),
        (
            _changed("3.4.1", "torch.sqrt(var + eps)", "(torch.sqrt(var) + eps)"),
            "inside the square",
        ),
    ],
    "3.4.2": [
        (
            _changed(
                "3.4.2",
                "torch.clamp(max_norm / (total + 1e-6), max=1.0)",
                "max_norm / (total + 1e-6)",
            ),
            "small gradients stay",
        ),
        (
            """
            def clip_gradients(grads, max_norm):
                total = torch.sqrt(sum((g**2).sum() for g in grads))
                return total, [g * min(1.0, max_norm / (float(g.norm()) + 1e-6)) for g in grads]
            """,
            "not each tensor by its own norm",
        ),
        (
            """
            def clip_gradients(grads, max_norm):
                total = torch.sqrt(sum((g**2).sum() for g in grads))
                clipped = [g * min(1.0, max_norm / (float(total) + 1e-6)) for g in grads]
                return torch.sqrt(sum((g**2).sum() for g in clipped)), clipped
            """,
            "measured before clipping",
        ),
    ],
    "3.5.1": [
        (
            _changed(
                "3.5.1",
                "(weights.reshape(-1, *[1] * (shard_grads.ndim - 1)) * shard_grads).sum(0)",
                "shard_grads.sum(0)",
            ),
            "do not add them",
        ),
        (
            _changed(
                "3.5.1",
                "(weights.reshape(-1, *[1] * (shard_grads.ndim - 1)) * shard_grads).sum(0)",
                "shard_grads.mean(0)",
            ),
            "weight each shard by its rows",
        ),
    ],
    "3.5.2": [
        (
            "def rank_indices(rows, world, rank):\n    return torch.arange(rank, rows, world)\n",
            "pad the rows",
        ),
        (
            _changed("3.5.2", "padded[rank::world]", "padded.reshape(world, -1)[rank]"),
            "deal the rows out strided",
        ),
    ],
    "3.6.1": [
        (_changed("3.6.1", "        optimizer.zero_grad()\n", ""), "call optimizer.zero_grad()"),
        (
            _changed(
                "3.6.1",
                "loss.backward()\n        optimizer.step()",
                "optimizer.step()\n        loss.backward()",
            ),
            "backward before step",
        ),
    ],
    "3.7.1": [
        (
            """
            def smoothed_cross_entropy(logits, target, eps):
                K = logits.shape[1]
                log_p = torch.log_softmax(logits, dim=1)
                smooth = torch.full_like(log_p, eps / (K - 1))  # planted: the others only
                smooth[torch.arange(len(target)), target] = 1 - eps
                return -(smooth * log_p).sum(dim=1).mean()
            """,
            "spread eps over all K classes",
        ),
        (
            _changed(
                "3.7.1",
                "torch.log_softmax(logits, dim=1)",
                "torch.log(torch.softmax(logits, dim=1))",
            ),
            "use torch.log_softmax",
        ),
    ],
    "3.7.2": [
        (
            _changed(
                "3.7.2",
                "lam * one_hot + (1 - lam) * one_hot[perm]",
                "one_hot",
            ),
            "mix the labels too",
        ),
        (
            """
            def mixup_batch(x, y, classes, lam, perm):
                one_hot = F.one_hot(y, classes).to(x.dtype)
                return (1 - lam) * x + lam * x[perm], (1 - lam) * one_hot + lam * one_hot[perm]
            """,
            "row i keeps lam of itself",
        ),
    ],
    "3.7.3": [
        (
            _changed(
                "3.7.3",
                "decay * average + (1 - decay) * current",
                "(1 - decay) * average + decay * current",
            ),
            "keep decay of the old average",
        ),
    ],
    "3.8.1": [
        (
            _changed(
                "3.8.1",
                'scores.masked_fill(future, float("-inf"))',
                "scores",
            ),
            "mask the future",
        ),
        (_changed("3.8.1", "triu(diagonal=1)", "tril(diagonal=-1)"), "the wrong triangle"),
        (_changed("3.8.1", " / d**0.5", ""), "divide the scores by sqrt(d)"),
    ],
    "3.8.2": [
        (
            _changed("3.8.2", "ids[o + 1 : o + block_size + 1]", "ids[o : o + block_size]"),
            "y is x shifted by one",
        ),
        (
            _changed("3.8.2", ", generator=generator)", ")"),
            "the generator you are given",
        ),
        (
            """
            def random_windows(ids, block_size, batch_size, generator):
                offsets = torch.randperm(len(ids) - block_size, generator=generator)[:batch_size]
                # planted: counts up from each offset's token instead of reading the text
                x = torch.stack([ids[offsets] + i for i in range(block_size)], dim=1)
                return x, x + 1
            """,
            "take consecutive tokens",
        ),
    ],
    "3.8.3": [
        (
            """
            def top_k_probabilities(logits, temperature, k):
                kth = torch.topk(logits, k, dim=-1).values[:, -1:]
                p = torch.softmax(logits.masked_fill(logits < kth, float("-inf")), dim=-1)
                return p / temperature
            """,
            "before the softmax",
        ),
        (
            """
            def top_k_probabilities(logits, temperature, k):
                z = logits / temperature
                kth = torch.topk(z, k, dim=-1).values[:, -1:]
                return torch.softmax(z, dim=-1).masked_fill(z < kth, 0.0)
            """,
            "over the k kept logits only",
        ),
    ],
    "3.9.1": [
        (
            _changed(
                "3.9.1", "F.mse_loss(model(x), y) / len(micro_batches)", "F.mse_loss(model(x), y)"
            ),
            "divide each micro-batch's loss",
        ),
        (
            """
            def accumulated_step(model, optimizer, micro_batches):
                total = torch.zeros(())
                for x, y in micro_batches:
                    optimizer.zero_grad()  # planted: inside the loop
                    loss = F.mse_loss(model(x), y) / len(micro_batches)
                    loss.backward()
                    total += loss.detach()
                optimizer.step()
                return total
            """,
            "clear the gradients once",
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
