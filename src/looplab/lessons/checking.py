"""Check a learner's function: run it on every case, compare with the oracle, explain failures.

A failure names the function, the shapes of its inputs, the largest absolute and relative
difference and the index where each occurs; when the wrong answer is one a known mistake gives,
the hint names that mistake. An exception in the learner's code is shown with the learner's own
frames only. The result is a record like Exercism's test runner writes (``to_json``).
"""

from __future__ import annotations

import contextlib
import inspect
import io
import re
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from looplab.lessons.exercise import Args, Case, Exercise, Outputs, named

OUTPUT_LIMIT = 500  # characters of a test's captured output kept in the record


@dataclass
class TestResult:
    """One case: ``status`` is pass, fail (a wrong answer) or error (the code raised)."""

    name: str
    status: str
    message: str = ""
    output: str = ""
    hint: str = ""  # the hint of the known mistake this answer matches, if any


@dataclass
class CheckResult:
    """The whole check: pass when every test passed; error when the file could not be run."""

    exercise: str
    function: str
    status: str
    tests: list[TestResult] = field(default_factory=list)
    message: str = ""  # why the file could not be run (status error)

    @property
    def failed(self) -> list[TestResult]:
        return [t for t in self.tests if t.status != "pass"]

    @property
    def hint(self) -> str:
        """The first known mistake that matched a failed test ('' if none did)."""
        return next((t.hint for t in self.failed if t.hint), "")

    def to_json(self) -> dict[str, Any]:
        """Exercism's result record: status, message (on error), tests with name, status,
        message and output (cut to 500 characters)."""
        record: dict[str, Any] = {
            "version": 2,
            "exercise": self.exercise,
            "status": self.status,
            "tests": [
                {
                    "name": t.name,
                    "status": t.status,
                    "message": t.message or None,
                    "output": t.output[:OUTPUT_LIMIT] or None,
                }
                for t in self.tests
            ],
        }
        if self.status == "error":
            record["message"] = self.message
        return record

    def to_dict(self) -> dict[str, Any]:
        """Everything, for the trip from the checking subprocess back to the CLI."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CheckResult:
        tests = [TestResult(**t) for t in d.pop("tests")]
        return cls(**d, tests=tests)


def describe(value: Any) -> str:
    """A short description of an argument: a tensor's shape, a module's class, a number."""
    if isinstance(value, Tensor):
        return "scalar" if value.ndim == 0 else str(tuple(value.shape))
    if isinstance(value, nn.Module):
        count = sum(p.numel() for p in value.parameters())
        return f"{type(value).__name__} with {count} parameters"
    if isinstance(value, torch.optim.Optimizer):
        return f"{type(value).__name__}(lr={value.param_groups[0]['lr']:g})"
    if isinstance(value, torch.Generator):
        return "a seeded generator"
    if callable(value):
        return getattr(value, "__name__", "a function")
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value)


def call_text(ex: Exercise, args: Args) -> str:
    """``mse_loss(pred (4, 3), target (4, 3))``: the call, with its inputs' shapes."""
    parts = []
    for name, value in zip(ex.argument_names(), args, strict=False):
        text = describe(value)
        parts.append(f"{name} {text}" if text.startswith("(") else f"{name}={text}")
    return f"{ex.function}({', '.join(parts)})"


def _index(flat: int, shape: torch.Size) -> str:
    index = []
    for size in reversed(shape):
        index.append(flat % size)
        flat //= size
    return "[" + ", ".join(map(str, reversed(index))) + "]"


def difference(got: Outputs, expected: Outputs, rtol: float, atol: float) -> str | None:
    """None when every output matches (``torch.isclose``); otherwise what differs and where."""
    for name, e in expected.items():
        g = got[name]
        if tuple(g.shape) != tuple(e.shape):
            return f"{name} has shape {tuple(g.shape)}, the oracle's has shape {tuple(e.shape)}"
        g64, e64 = g.detach().double().cpu(), e.detach().double().cpu()
        close = torch.isclose(g64, e64, rtol=rtol, atol=atol, equal_nan=True)
        if bool(close.all()):
            continue
        abs_diff = (g64 - e64).abs().nan_to_num(nan=float("inf")).reshape(-1)
        rel_diff = abs_diff / e64.abs().reshape(-1).clamp_min(1e-12)
        ia, ir = int(abs_diff.argmax()), int(rel_diff.argmax())
        mine, theirs = float(g64.reshape(-1)[ia]), float(e64.reshape(-1)[ia])
        if g.ndim == 0:
            return (
                f"{name}: you have {mine:.6g}, the oracle {theirs:.6g} (absolute difference "
                f"{float(abs_diff[ia]):.3g}, relative {float(rel_diff[ia]):.3g})"
            )
        at = _index(ia, g.shape)
        return (
            f"{name}: largest absolute difference {float(abs_diff[ia]):.3g} at {at}, largest "
            f"relative difference {float(rel_diff[ir]):.3g} at {_index(ir, g.shape)}; at {at} "
            f"you have {mine:.6g}, the oracle {theirs:.6g}"
        )
    return None


def learner_traceback(exc: BaseException, learner_file: str) -> str:
    """The exception with only the frames in the learner's file (not looplab's nor torch's)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == learner_file]
    lines = traceback.format_list(frames)
    return "".join(lines) + "".join(traceback.format_exception_only(type(exc), exc)).rstrip()


def _observe(ex: Exercise, fn: Callable[..., Any], args: Args) -> Outputs:
    if ex.observe is not None:
        return ex.observe(fn, args)
    return named(ex.outputs, fn(*args))


def check_case(ex: Exercise, fn: Callable[..., Any], case: Case) -> TestResult:
    """Run the learner's ``fn`` on one case and judge it. The oracle, the known mistakes and the
    judge each get fresh arguments: what the learner changed in place cannot fool them."""
    case_name, args = case.name, case.make()
    learner_file = inspect.getsourcefile(fn) or ""
    call = call_text(ex, args)
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            got = _observe(ex, fn, args)
    except NotImplementedError:
        return TestResult(
            case_name,
            "fail",
            f"{ex.function} is not written yet: it raises NotImplementedError; write its body",
            captured.getvalue(),
        )
    except TypeError as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == learner_file]
        if not frames:  # our named(): the learner returned the wrong kind of thing
            return TestResult(case_name, "fail", f"{call} {exc}", captured.getvalue())
        return _error(ex, case_name, call, exc, learner_file, captured.getvalue())
    except Exception as exc:
        return _error(ex, case_name, call, exc, learner_file, captured.getvalue())
    return _judge(ex, case, call, got, captured.getvalue())


def _error(
    ex: Exercise, name: str, call: str, exc: Exception, learner_file: str, output: str
) -> TestResult:
    text = f"{type(exc).__name__}: {exc}"
    hint = next(
        (m.hint for m in ex.mistakes if m.error is not None and re.search(m.error, text)), ""
    )
    message = f"{call} raised an exception:\n{learner_traceback(exc, learner_file)}"
    return TestResult(name, "error", message, output, hint)


def _judge(ex: Exercise, case: Case, call: str, got: Outputs, output: str) -> TestResult:
    name = case.name
    if ex.judge is not None:
        verdict = ex.judge(got, case.make())
        if verdict is None:
            return TestResult(name, "pass", output=output)
        return TestResult(name, "fail", f"{call}: {verdict[0]}", output, verdict[1])
    assert ex.oracle is not None, f"exercise {ex.id} has neither an oracle nor a judge"
    expected = ex.oracle(*case.make())
    problem = difference(got, expected, ex.rtol, ex.atol)
    if problem is None:
        return TestResult(name, "pass", output=output)
    hint = ""
    for mistake in ex.mistakes:
        if mistake.output is None:
            continue
        try:
            wrong = mistake.output(*case.make())
        except RuntimeError:  # this mistake cannot happen with these shapes
            continue
        if difference(got, wrong, ex.rtol, ex.atol) is None:
            hint = mistake.hint
            break
    return TestResult(name, "fail", f"{call}: {problem} (oracle: {ex.oracle_name})", output, hint)


def check_function(ex: Exercise, fn: Callable[..., Any]) -> CheckResult:
    """Check ``fn`` on every case of ``ex``; each case gets fresh arguments."""
    tests = [check_case(ex, fn, case) for case in ex.cases()]
    status = "pass" if all(t.status == "pass" for t in tests) else "fail"
    return CheckResult(ex.id, ex.function, status, tests)
