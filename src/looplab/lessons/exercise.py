"""An exercise: a function the learner writes, checked against an oracle on seeded inputs.

The reference solution is an ordinary function in the lesson module; its signature and
docstring (the task, the shapes, one worked example as a doctest) become the learner's starter
file, with a body that raises ``NotImplementedError``. The *oracle* computes the right answer a
different way (autograd, ``torch.optim``, ``torch.nn.functional``, a closed form, finite
differences), so a check never compares against numbers copied from the reference. Known
mistakes (:class:`Mistake`) say what a typical wrong answer would return, so a failure that
matches one gets the hint that names it.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from torch import Tensor

Outputs = dict[str, Tensor]  # named results of the learner's function: {"dL/dw": ..., ...}
Args = tuple[Any, ...]


@dataclass(frozen=True)
class Case:
    """One test: a name and a factory of fresh arguments (so in-place changes cannot leak
    from the learner's call into the oracle's)."""

    name: str
    make: Callable[[], Args]


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer. ``output(*args)`` is what that mistake returns (compared with the
    learner's result), or ``error`` a regular expression matched against the exception text the
    mistake raises; ``hint`` names the mistake and its fix."""

    name: str
    hint: str
    output: Callable[..., Outputs] | None = None
    error: str | None = None


Verdict = tuple[str, str]  # (what is wrong, the hint that names it)


@dataclass(frozen=True)
class Exercise:
    """One checked exercise of a lesson.

    ``oracle(*args)`` computes the expected outputs independently of ``solution``;
    ``observe(fn, args)`` runs the learner's function and names its results (by default the
    return value, split over ``outputs``). An exercise whose answer is not one array (a batch
    iterator) gives ``judge(outputs, args) -> Verdict | None`` instead of comparing values.
    """

    id: str
    title: str
    solution: Callable[..., Any]
    cases: Callable[[], Sequence[Case]]
    hints: tuple[str, ...]
    oracle: Callable[..., Outputs] | None = None
    oracle_name: str = ""
    outputs: tuple[str, ...] = ("result",)
    observe: Callable[[Callable[..., Any], Args], Outputs] | None = None
    judge: Callable[[Outputs, Args], Verdict | None] | None = None
    mistakes: tuple[Mistake, ...] = ()
    rtol: float = 1e-4
    atol: float = 1e-5
    imports: tuple[str, ...] = ("import torch", "from torch import Tensor")

    @property
    def function(self) -> str:
        """The name of the function the learner writes."""
        return self.solution.__name__

    @property
    def lesson_id(self) -> str:
        return self.id.rsplit(".", 1)[0]

    @property
    def file_name(self) -> str:
        return f"ex_{self.id.replace('.', '_')}.py"

    def argument_names(self) -> list[str]:
        return list(inspect.signature(self.solution).parameters)


def named(names: Sequence[str], value: Any) -> Outputs:
    """A function's return value as named outputs: one name takes the value itself, several
    names take a tuple of that length."""
    import torch

    if len(names) == 1:
        values = (value,)
    elif isinstance(value, tuple | list) and len(value) == len(names):
        values = tuple(value)
    else:
        raise TypeError(
            f"should return {len(names)} values ({', '.join(names)}), got {type(value).__name__}"
        )
    out: Outputs = {}
    for name, v in zip(names, values, strict=True):
        if v is None:
            raise TypeError(f"returned None for {name}: return the value (a tensor)")
        out[name] = v if isinstance(v, Tensor) else torch.as_tensor(v)
    return out


def _header(ex: Exercise, what: str) -> str:
    return (
        f'"""Exercise {ex.id}: {ex.title} (lesson {ex.lesson_id}).\n\n{what}\n"""\n\n'
        "from __future__ import annotations\n\n" + "\n".join(ex.imports) + "\n\n\n"
    )


def starter_function(ex: Exercise) -> str:
    """The reference's signature and docstring, with a body that raises NotImplementedError."""
    source = textwrap.dedent(inspect.getsource(ex.solution))
    fn = ast.parse(source).body[0]
    assert isinstance(fn, ast.FunctionDef) and isinstance(fn.body[0], ast.Expr), ex.id
    assert fn.body[0].end_lineno is not None
    signature_and_docstring = source.splitlines()[: fn.body[0].end_lineno]
    body = f'    raise NotImplementedError("write {fn.name}: the docstring says what it does")'
    return "\n".join([*signature_and_docstring, body]) + "\n"


def starter_text(ex: Exercise) -> str:
    """The learner's starter file: imports, then :func:`starter_function`."""
    return _header(ex, f"Write the body, then run: looplab check {ex.id}") + starter_function(ex)


def solution_text(ex: Exercise) -> str:
    """The reference solution as a file a learner could run."""
    source = textwrap.dedent(inspect.getsource(ex.solution))
    return _header(ex, "The reference solution.") + source.rstrip() + "\n"
