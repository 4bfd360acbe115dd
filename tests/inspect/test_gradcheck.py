"""looplab.gradcheck: central differences against a backward; agrees with
torch.autograd.gradcheck, and catches a planted wrong backward."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor

import looplab
from looplab.cli import run
from looplab.errors import ConfigError
from looplab.inspect.gradcheck import check_manual_mlp
from looplab.manual.layers import Array, Tanh

Fn = Callable[[Tensor], Tensor]


def elementwise(f: Fn, df: Fn) -> Callable[[Tensor], Tensor]:
    """sum(f(x)) as an autograd.Function whose backward is ``df`` (right or planted wrong)."""

    class Op(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor) -> Tensor:
            ctx.save_for_backward(x)
            return f(x).sum()

        @staticmethod
        def backward(ctx: Any, grad: Tensor) -> Tensor:
            (x,) = ctx.saved_tensors
            return grad * df(x)

    return Op.apply  # type: ignore[no-any-return]  # torch types Function.apply as Any


CASES = {  # name: (f, df, backward is right)
    "x sin x": (lambda x: x * torch.sin(x), lambda x: torch.sin(x) + x * torch.cos(x), True),
    "x sin x, product rule forgotten": (
        lambda x: x * torch.sin(x),
        lambda x: x * torch.cos(x),
        False,
    ),
    "softplus": (torch.nn.functional.softplus, torch.sigmoid, True),
    "softplus, exp for sigmoid": (torch.nn.functional.softplus, torch.exp, False),
    "cube": (lambda x: x**3, lambda x: 3 * x**2, True),
    "cube, 1% off": (lambda x: x**3, lambda x: 3.03 * x**2, False),
    "tanh": (torch.tanh, lambda x: 1 - torch.tanh(x) ** 2, True),
    "tanh, missing square": (torch.tanh, lambda x: 1 - torch.tanh(x), False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_agrees_with_torch_autograd_gradcheck(case: str) -> None:
    f, df, right = CASES[case]
    fn = elementwise(f, df)
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x.requires_grad_(True)
    torch_verdict = torch.autograd.gradcheck(fn, (x,), eps=1e-6, raise_exception=False)
    (grad,) = torch.autograd.grad(fn(x), x)
    with torch.no_grad():
        ours = looplab.gradcheck(lambda: float(fn(x)), {"x": x}, {"x": grad}, eps=1e-6)
    assert ours.passed == torch_verdict == right
    assert len(ours.rows) == 1 and ours.rows[0].shape == (3, 4)
    if right:
        assert ours.rows[0].max_rel_error < 1e-6
    else:
        assert ours.rows[0].max_rel_error > 5e-3 and "x has relative error" in ours.failure()


def test_central_difference_error_is_eps_squared() -> None:
    """For sum(w^3) the central difference is exactly 3w^2 + eps^2: O(eps^2), measured."""
    w = np.array([0.5, -1.0, 2.0])
    result = looplab.gradcheck(lambda: float((w**3).sum()), {"w": w}, {"w": 3 * w**2}, eps=1e-2)
    assert result.rows[0].max_abs_error == pytest.approx(1e-4, rel=1e-6)
    assert not result.passed  # 1e-4 / 0.75 is far above tol 1e-5: a coarse eps misleads
    assert np.array_equal(w, [0.5, -1.0, 2.0])  # every nudge was put back


def test_the_manual_mlp_passes_for_every_activation_and_loss() -> None:
    for activation in ("relu", "tanh", "sigmoid", "leaky_relu", "identity"):
        for loss in ("mse", "bce", "ce"):
            result = check_manual_mlp((5, 4), activation, loss, batch=6, seed=3)
            assert result.passed, (activation, loss, result.worst)
            names = [row.name for row in result.rows]
            assert names == [f"fc{i}.{k}" for i in (1, 2, 3) for k in ("weight", "bias")]


def test_catches_a_planted_wrong_backward(monkeypatch: pytest.MonkeyPatch) -> None:
    """tanh' written as 1 - tanh instead of 1 - tanh^2: the layers before tanh fail, the
    last layer (whose gradient does not pass through tanh) still passes."""

    def wrong(self: Tanh, grad: Array) -> Array:
        assert self.y is not None
        return grad * (1 - self.y)

    monkeypatch.setattr(Tanh, "backward", wrong)
    result = check_manual_mlp((8,), "tanh", "ce")
    verdicts = {row.name: row.passed for row in result.rows}
    assert verdicts == {
        "fc1.weight": False,
        "fc1.bias": False,
        "fc2.weight": True,
        "fc2.bias": True,
    }
    assert result.worst.max_rel_error > 1e-2


def test_float32_parameters_are_refused() -> None:
    w = np.ones(3, dtype=np.float32)
    with pytest.raises(ConfigError, match="needs float64 parameters, w is float32"):
        looplab.gradcheck(lambda: float(w.sum()), {"w": w}, {"w": np.ones(3)})


def test_cli_prints_the_table_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["gradcheck", "--hidden", "8", "--activation", "tanh", "--loss", "ce"])
    out = capsys.readouterr().out
    assert code == 0
    assert "manual MLP 4-8-3 (tanh)" in out and "all 4 parameters pass" in out
    for name in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"):
        assert name in out
    assert out.count("pass") == 5  # four rows and the summary


def test_cli_fails_with_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(Tanh, "backward", lambda self, grad: grad)  # derivative forgotten
    code = run(["gradcheck", "--hidden", "8", "--activation", "tanh", "--loss", "ce"])
    captured = capsys.readouterr()
    assert code == 1
    assert "FAIL" in captured.out
    err = captured.err.strip()
    assert err.startswith("gradient check failed for 2 of 4 parameters: fc1.")
    assert "\n" not in err


def test_cli_bad_loss_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["gradcheck", "--loss", "hinge"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: unknown loss 'hinge'; choose one of: mse, bce, ce"


RELIABLE_STEPS = (1e-7, 1e-6, 1e-5, 1e-4)


def test_a_correct_backward_passes_at_every_step_the_verdict_trusts() -> None:
    """No false alarm inside the range where a failure would blame the backward."""
    for eps in RELIABLE_STEPS:
        for activation in ("relu", "tanh", "sigmoid"):
            for loss in ("mse", "bce", "ce"):
                result = check_manual_mlp((8,), activation, loss, seed=1, eps=eps)
                assert result.passed, (eps, activation, loss, result.worst)


def test_a_step_outside_that_range_is_blamed_not_the_backward() -> None:
    """eps 1e-2 (truncation) and 1e-11 (rounding) fail a correct backward: the message says
    the step is the cause; a wrong backward at a good step is still called wrong."""
    coarse = check_manual_mlp((8,), "relu", "ce", eps=1e-2)
    fine = check_manual_mlp((8,), "tanh", "mse", eps=1e-11)
    assert not coarse.passed and not fine.passed
    assert "truncation error grows as eps^2" in coarse.failure()
    assert "rounding error as 1/eps" in fine.failure()
    for result in (coarse, fine):
        assert "its backward is wrong" not in result.failure()
    strict = check_manual_mlp((8,), "tanh", "mse", tol=1e-12)
    assert not strict.passed and "below what float64 finite differences resolve" in (
        strict.failure()
    )


def test_cli_refuses_a_verdict_its_step_cannot_give(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["gradcheck", "--eps", "1"])
    captured = capsys.readouterr()
    assert code == 2
    assert "FAIL" in captured.out  # the table is shown: the numbers are the lesson
    err = captured.err.strip()
    assert err.startswith("error: gradient check failed for 4 of 4 parameters")
    assert "with --eps 1 the finite differences themselves are off" in err
    assert "check again with --eps 1e-6 before suspecting the backward" in err
    assert "\n" not in err
