"""Run a learner's file in a subprocess with a time limit, and bring back the check's record.

The child (``python -m looplab.lessons.runner ID FILE OUT``) imports torch and the lesson, runs
the reference once (torch imports parts of itself, e.g. ``torch._dynamo`` for ``torch.optim``,
on first use: seconds on a busy machine), says ``ready`` on stdout, and only then loads the
learner's file: the time limit counts the learner's code, not torch's imports. A loop that
never ends is killed and reported in words.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from looplab.files import write_atomic

if TYPE_CHECKING:
    from looplab.lessons.checking import CheckResult
    from looplab.lessons.exercise import Exercise

DEFAULT_TIMEOUT = 10.0  # seconds of the learner's code per check
READY = "ready"


def load_learner(ex: Exercise, path: Path) -> tuple[Any, CheckResult | None]:
    """Import the learner's file and find its function: ``(fn, None)``, or ``(None, error)``
    with the learner's own frames when the file cannot be run."""
    from looplab.lessons.checking import CheckResult, learner_traceback

    def error(message: str) -> tuple[Any, CheckResult]:
        return None, CheckResult(ex.id, ex.function, "error", message=message)

    file = str(path.resolve())
    spec = importlib.util.spec_from_file_location(f"learner_{ex.file_name[:-3]}", file)
    if spec is None or spec.loader is None:
        return error(f"{path} cannot be imported as Python: it should end in .py")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        return error(f"{path}, line {exc.lineno}: {exc.msg}\n    {(exc.text or '').strip()}")
    except Exception as exc:
        return error(f"{path} raised while being imported:\n{learner_traceback(exc, file)}")
    fn = getattr(module, ex.function, None)
    if not callable(fn):
        return error(f"{path} defines no function {ex.function}; keep the starter's name")
    return fn, None


def check_file(ex: Exercise, path: Path) -> CheckResult:
    """Check the learner's file in this process (no time limit)."""
    from looplab.lessons.checking import check_function

    fn, failure = load_learner(ex, path)
    return failure if failure is not None else check_function(ex, fn)


def run_check(exercise_id: str, path: Path, timeout: float = DEFAULT_TIMEOUT) -> CheckResult:
    """Check ``path`` in a fresh Python process, killed after ``timeout`` seconds of the
    learner's code."""
    from looplab.lessons.checking import CheckResult

    with tempfile.TemporaryDirectory(prefix="looplab-check-") as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "looplab.lessons.runner", exercise_id, str(path), str(out)]
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as proc:
            assert proc.stdout is not None
            first = proc.stdout.readline().strip()  # torch and the lesson are imported
            if first != READY:
                _, err = proc.communicate()
                raise RuntimeError(f"the checker did not start: {first}\n{err}")
            try:
                _, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                from looplab.lessons.catalogue import exercise

                name = exercise(exercise_id).function
                return CheckResult(
                    exercise_id,
                    name,
                    "error",
                    message=f"timed out after {timeout:g} s: {name} (or the file's top level) "
                    "did not finish; look for a loop that never ends, or raise --timeout",
                )
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"the checker failed (exit {proc.returncode}):\n{err}")
        return CheckResult.from_dict(json.loads(out.read_text()))


def main(argv: list[str]) -> int:
    """The child: ``ID FILE OUT``."""
    from looplab.lessons.catalogue import exercise
    from looplab.lessons.checking import check_function

    exercise_id, file, out = argv
    ex = exercise(exercise_id)
    check_function(ex, ex.solution)  # warm up: torch imports parts of itself on first use
    print(READY, flush=True)
    result = check_file(ex, Path(file))
    write_atomic(Path(out), json.dumps(result.to_dict()).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
