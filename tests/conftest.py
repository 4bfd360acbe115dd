"""Shared test set-up: files-only plotting, one torch thread, and small fast configs."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

# As the looplab command does: cache bytecode even where PYTHONDONTWRITEBYTECODE is set, so
# torch is not compiled from source in every test process.
sys.dont_write_bytecode = False
os.environ.setdefault("MPLBACKEND", "Agg")
# rich folds long lines (and long temporary paths mid-word) at the terminal width; tests read
# whole messages, so give them a wide terminal
os.environ["COLUMNS"] = "400"

import pytest  # noqa: E402 - after the interpreter flags above
import torch  # noqa: E402
from hypothesis import settings  # noqa: E402

from looplab.config import Config  # noqa: E402

# One thread per test process: the models under test are small, pytest-xdist runs one worker
# per core, and more threads than cores make torch's OpenMP kernels spin (measured: an epoch of
# batches took 24 ms with 2 threads on 2 busy cores, 2.2 ms with 1).
torch.set_num_threads(1)

# CI runs the same examples every time (a red CI run must be reproducible); locally hypothesis
# keeps exploring new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session", autouse=True)
def nothing_in_the_users_runs() -> Iterator[None]:
    """Tests write under tmp_path only: fail the session if one wrote into ./runs (the user's
    runs, where a command without --out writes)."""
    runs = Path.cwd() / "runs"
    before = set(runs.iterdir()) if runs.is_dir() else set()
    yield
    after = set(runs.iterdir()) if runs.is_dir() else set()
    new = sorted(p.name for p in after - before)
    assert not new, f"a test wrote into the user's ./runs: {new}; give it --out under tmp_path"


@pytest.fixture
def quick_config(tmp_path: Path) -> Config:
    """The default job shrunk to run in well under a second, writing under tmp_path."""
    return Config(epochs=5, n=200, out=str(tmp_path)).validate()


@pytest.fixture(autouse=True)
def private_data_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test keeps the learner's progress file in its own temporary directory, never in
    the user's data directory."""
    monkeypatch.setenv("LOOPLAB_DATA_DIR", str(tmp_path_factory.mktemp("looplab-data")))


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """``tmpfs("2m")``: a fresh tmpfs of that size under tmp_path (a full disk on demand, and
    ``remount(path, "ro")`` makes it read-only). Skips where mounting is not allowed (it needs
    root: the permissions of a chmod'ed directory do not stop root)."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        path = tmp_path / f"fs{len(mounted)}"
        path.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); it needs root")
        mounted.append(path)
        return path

    yield mount
    for path in mounted:
        with contextlib.suppress(OSError):
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount(path: Path, options: str) -> None:
    """``remount(fs, "ro")``, ``remount(fs, "size=64m")``: change a tmpfs made by ``tmpfs``."""
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True)


@pytest.fixture(autouse=True)
def no_downloads(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test downloads anything or reads the user's cache: downloaded data goes to an empty
    temporary cache, from an address where nothing listens (a test that downloads serves the
    files itself on 127.0.0.1 and points LOOPLAB_MNIST_URL there)."""
    monkeypatch.setenv("LOOPLAB_CACHE_DIR", str(tmp_path_factory.mktemp("looplab-cache")))
    monkeypatch.setenv("LOOPLAB_MNIST_URL", "http://127.0.0.1:9/nothing-here")
