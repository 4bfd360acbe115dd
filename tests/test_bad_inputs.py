"""Every row of docs/bad-inputs.md: one line on stderr, exit code 2, no traceback, and nothing
changed on disk.

The page is the single list of bad inputs; this test reads it, so a row that stops matching the
code fails here.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from looplab.cli import run
from looplab.config import Config
from looplab.data.prepared import PreparedData
from looplab.data.split import Split
from looplab.errors import LooplabError
from looplab.models import ModelSpec, build_model
from looplab.run.fit import fit

PAGE = Path(__file__).parents[1] / "docs" / "bad-inputs.md"
ROW = re.compile(r"^\|\s*(\d+)\s*\|([^|]*)\|\s*`([^`]*)`\s*\|(.*)\|\s*$")


def catalogue() -> list[tuple[str, str, str]]:
    """(id, command, expected fragment) for each row of the page's table."""
    rows = []
    for line in PAGE.read_text().splitlines():
        m = ROW.match(line)
        if m:
            rows.append((m.group(1), m.group(3).strip(), m.group(4).strip()))
    return rows


def _csv(header: str, rows: list[str]) -> str:
    return "\n".join([header, *rows]) + "\n"


FILES: dict[str, str | bytes] = {
    "good.csv": _csv(
        "size,colour,label",
        [f"{i},{'red' if i % 2 else 'blue'},{'cat' if i % 3 else 'dog'}" for i in range(30)],
    ),
    "dates.csv": _csv("day,x,y", [f"2024-01-{i + 1:02d},{i},{i % 2}" for i in range(20)]),
    "text.csv": _csv("comment,x,y", [f"comment number {i},{i},{i % 2}" for i in range(40)]),
    "empty_col.csv": _csv("notes,x,y", [f",{i},{i % 2}" for i in range(20)]),
    "header_only.csv": "x,y\n",
    "latin1.csv": "x,y\ncaf\xe9,1\n".encode("latin-1"),
    "one_class.csv": _csv("x,y", [f"{i},1" for i in range(20)]),
    "broken.toml": "epochs = [\n",
    "typo.toml": "lerning_rate = 0.1\n",
    "wrong_type.toml": 'epochs = "many"\n',
    "points.csv": _csv("x1,x2", ["0.5,0.25", "-1.0,0.75"]),
    "words.csv": _csv("x1,x2", ["abc,0.25"]),
    "afile.txt": "not a directory\n",
    "semicolons.csv": _csv(
        "x;colour;y", [f"{i};{'red' if i % 2 else 'blue'};{i % 2}" for i in range(20)]
    ),
    "dup.csv": _csv("x,size,x,y", [f"{i},{i},{i},{i % 2}" for i in range(20)]),
    "quote.csv": _csv("x,y", ["1,0", '"2,1', *["3,0"] * 40_000]),
    "long_row.csv": _csv("id,name,y", ["1,Lee,0", "2,Smith, J,1", "3,Ng,0"]),
    "messy.csv": _csv(
        "day,comment text,notes,x,y",
        [f"2024-01-{i % 28 + 1:02d},comment number {i},,{i},{i % 2}" for i in range(40)],
    ),
    "prices.csv": _csv(
        "rooms,price", [f"{i % 7},{'unknown' if i == 10 else 100 + i * 1.5}" for i in range(60)]
    ),
    "inf_cell.csv": _csv("size,y", [f"{'inf' if i == 3 else i / 2},{i % 2}" for i in range(20)]),
    "huge.csv": _csv("x,y", [f"{'1e39' if i == 1 else i},{i % 2}" for i in range(20)]),
    "no_target.csv": _csv("x,y", [f"{i}," for i in range(10)]),
    "holes.csv": _csv("x,z,y", [",1,0", ",2,1", "3,,0", ",4,1"]),
    "counts.csv": _csv("age,visits", [f"{20 + i},{5 if i == 29 else i % 5}" for i in range(30)]),
    "grades.csv": _csv("x,grade", [f"{i},{i % 6}" for i in range(20)]),
    "infs.csv": _csv("x1,x2", ["inf,0.5"]),
    "escape.toml": 'name = "../../escaped"\nepochs = 1\n',
    "longname.toml": f'name = "{"n" * 300}"\n',
    "longout.toml": f'out = "{"/".join(["o" * 200] * 25)}"\n',
}

# Rows that train, then fail: they leave a failed run directory (every other row is refused
# before anything is written).
TRAINS_THEN_FAILS = ("diverged", "why: the initial weights", "is too large here")


class _RunsCode:
    """Unpickling this would run a shell command: a hostile checkpoint's payload."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, ("touch pwned",))


def _damaged_runs(runs: Path) -> None:
    """Copies of runs/good with a damaged checkpoint or model file (issue 5's rows)."""
    import hashlib
    import io
    import shutil

    from looplab.watch.checkpoint import CHECKPOINT_DIR, list_checkpoints

    def only_checkpoint(name: str) -> Path:
        shutil.copytree(runs / "good", runs / name)
        (runs / name / "status.json").write_text('{"status": "interrupted"}')
        *older, newest = list_checkpoints(runs / name / CHECKPOINT_DIR)
        for path in older:
            path.unlink()
        return newest

    def checkpoint_file(payload: object, version: int = 1) -> bytes:
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        body = buffer.getvalue()
        digest = hashlib.sha256(body).hexdigest()
        return f"LOOPLAB-CHECKPOINT {version} sha256={digest} size={len(body)}\n".encode() + body

    path = only_checkpoint("truncated")
    path.write_bytes(path.read_bytes()[:-100])
    path = only_checkpoint("flipped")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x04
    path.write_bytes(bytes(data))
    only_checkpoint("hostile").write_bytes(checkpoint_file({"format_version": 1, "x": _RunsCode()}))
    only_checkpoint("future").write_bytes(checkpoint_file({"format_version": 2}, version=2))
    torch.save({"w": torch.zeros(2)}, only_checkpoint("plain"))
    for name in ("newer_model", "cut_model", "no_spec"):
        shutil.copytree(runs / "good", runs / name)
    payload = torch.load(runs / "good" / "model.pt", weights_only=True)
    torch.save({**payload, "format_version": 2}, runs / "newer_model" / "model.pt")
    model = runs / "cut_model" / "model.pt"
    model.write_bytes(model.read_bytes()[:200])
    torch.save({k: v for k, v in payload.items() if k != "spec"}, runs / "no_spec" / "model.pt")


def _resumable_runs(runs: Path) -> None:
    """runs/stopped (good, marked interrupted), runs/cycle (one-cycle) and runs/busy."""
    import shutil

    for name in ("stopped", "busy"):
        shutil.copytree(runs / "good", runs / name)
        (runs / name / "status.json").write_text('{"status": "interrupted"}')
    args = ["train", "--epochs", "2", "--schedule", "one_cycle", "--out", str(runs)]
    assert run([*args, "--name", "cycle"]) == 0


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A scratch directory with the fixture files and the runs of the page's rows; runs/busy is
    locked as a training process would hold it, for the whole module."""
    root = tmp_path_factory.mktemp("bad_inputs")
    for name, content in FILES.items():
        path = root / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    (root / "somedir").mkdir()
    code = run(["train", "--epochs", "2", "--out", str(root / "runs"), "--name", "good"])
    assert code == 0
    _damaged_runs(root / "runs")
    _resumable_runs(root / "runs")
    lock = os.open(root / "runs" / "busy" / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another "process": this one's own fd
    yield root
    os.close(lock)


def fingerprint(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file and directory under ``root``: size, time of last change, and the SHA-256 of
    files up to 64 KiB (checkpoints and models are compared by size and time)."""
    prints = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest = ""
        if path.is_file() and st.st_size <= 65536:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        prints[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns, digest)
    return prints


def data(
    features: int = 5,
    nan: bool = False,
    huge: bool = False,
    y2d: bool = False,
    float_labels: bool = False,
    label: int | None = None,
    int_x: bool = False,
    no_class_names: bool = False,
) -> PreparedData:
    """40 rows of ``features`` features and 3 classes, with one mistake a Python user makes."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(40, features, generator=g)
    y = torch.arange(40) % 3
    if nan:
        X[0, 0] = float("nan")
    if huge:
        X = X.double()
        X[0, 0] = 1e39
    if int_x:
        X = X.round().long()
    if label is not None:
        y[0] = label
    yy: torch.Tensor = y.float() if float_labels else y
    if y2d:
        yy = yy[:, None]
    return PreparedData(
        Split(X, yy), None, "multiclass", name="api",
        feature_names=[f"f{i}" for i in range(features)],
        class_names=[] if no_class_names else ["a", "b", "c"],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("row", "command", "expected"), catalogue(), ids=[r[0] for r in catalogue()]
)
def test_bad_input_gets_one_line(
    row: str,
    command: str,
    expected: str,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(workdir)
    if command.startswith("python:"):
        model = build_model(ModelSpec(5, 3, (10, 6)), seed=0)
        names = {"model": model, "torch": torch, "fit": fit, "data": data, "Config": Config}
        with pytest.raises(LooplabError) as info:
            eval(command.removeprefix("python:").strip(), names)
        assert expected in str(info.value)
        assert "\n" not in str(info.value)
        return
    if "--device cuda" in command and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    args = shlex.split(command)
    assert args[0] == "looplab"
    before = fingerprint(workdir)
    code = run(args[1:])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert expected in lines[0], err
    assert "Traceback" not in err
    if not any(text in expected for text in TRAINS_THEN_FAILS):
        after = fingerprint(workdir)
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        assert not changed, f"a refused command changed {changed[:5]}"


def test_catalogue_is_large_and_numbered() -> None:
    rows = catalogue()
    assert len(rows) >= 120
    assert [int(r[0]) for r in rows] == list(range(1, len(rows) + 1))
