"""Files fetched once into a cache, each checked against its SHA-256 before it is kept.

A file is streamed to a temporary name beside its destination, hashed as it arrives, and
renamed into place only when the whole file is there and its checksum matches: an interrupted,
failed or tampered download leaves nothing half-written in the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from looplab.errors import DataError

CACHE_ENV = "LOOPLAB_CACHE_DIR"  # overrides the cache directory (tests point it at tmp_path)
CHUNK = 1 << 16  # bytes read per step of a download


@dataclass(frozen=True)
class RemoteFile:
    """A file to fetch: its name, its expected SHA-256 and size (bytes, for the progress bar)."""

    name: str
    sha256: str
    size: int


def cache_dir(subdir: str) -> Path:
    """Where downloaded data is kept: ``$LOOPLAB_CACHE_DIR/<subdir>`` if set, else the user's
    cache directory (``~/.cache/looplab/<subdir>`` on Linux)."""
    root = os.environ.get(CACHE_ENV) or user_cache_dir("looplab")
    return Path(root) / subdir


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_all(
    base_url: str, files: Mapping[str, RemoteFile], into: Path, what: str
) -> dict[str, Path]:
    """Each of ``files`` in ``into``, downloaded from ``base_url`` when missing (with a progress
    bar on a terminal); returns key -> path. Raises a one-line DataError if one cannot be had."""
    into.mkdir(parents=True, exist_ok=True)
    missing = [f for f in files.values() if not (into / f.name).exists()]
    if missing:
        console = Console(stderr=True)
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                   TransferSpeedColumn(), TimeRemainingColumn())  # fmt: skip
        with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
            for file in missing:
                task = bar.add_task(f"{what}: {file.name}", total=file.size)
                for done in download(f"{base_url.rstrip('/')}/{file.name}", into, file):
                    bar.update(task, completed=done)
    return {key: into / f.name for key, f in files.items()}


def download(url: str, into: Path, file: RemoteFile) -> Iterator[int]:
    """Stream ``url`` to ``into/file.name``, yielding the bytes received so far; the file
    appears only once complete and matching ``file.sha256``."""
    final = into / file.name
    tmp = into / f".{file.name}.{os.getpid()}.part"
    digest = hashlib.sha256()
    done = 0
    try:
        with urllib.request.urlopen(url, timeout=30) as response, open(tmp, "wb") as out:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                yield done
        if digest.hexdigest() != file.sha256:
            raise DataError(
                f"{url} gave a file whose SHA-256 is {digest.hexdigest()[:12]}..., not the "
                f"expected {file.sha256[:12]}... ({done} bytes); nothing was kept: try again, or "
                f"download the files yourself and give their folder with --data-dir"
            )
        os.replace(tmp, final)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataError(
            f"cannot download {url} ({reason}); check the connection, or download the files "
            f"yourself and give their folder with --data-dir"
        ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
