r"""Checkpoint files: written atomically, checked by a SHA-256 checksum, loaded without code.

A checkpoint file is one header line and a ``torch.save`` body::

    LOOPLAB-CHECKPOINT 1 sha256=<64 hex digits> size=<body bytes>\n
    <body: torch.save(payload)>

The checksum covers every byte of the body, so a truncated or bit-flipped file is caught before
anything is unpickled. The body is read with ``torch.load(weights_only=True)``, which refuses a
file crafted to run code. A file is written to a temporary name in the same directory, flushed,
fsynced and renamed over its final name, so a crash at any moment leaves either the old file or
the new one, never half of one; older checkpoints are removed only after the new one is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from looplab.errors import RunError

CHECKPOINT_FORMAT = 1
MAGIC = b"LOOPLAB-CHECKPOINT"
CHECKPOINT_DIR = "checkpoints"
_NAME = re.compile(r"^ckpt-e(\d+)-b(\d+)\.pt$")

Payload = dict[str, Any]


class CheckpointError(RunError):
    """A checkpoint file is damaged, foreign or hostile; the message names the file."""


def checkpoint_name(epoch: int, batch: int) -> str:
    """``ckpt-e0003-b000012.pt``: after 3 finished epochs and 12 batches of the 4th."""
    return f"ckpt-e{epoch:04d}-b{batch:06d}.pt"


def encode(payload: Payload) -> bytes:
    """Header line + ``torch.save`` body of ``payload`` (a dict of tensors and plain values),
    marked with the checkpoint format."""
    buffer = io.BytesIO()
    import torch  # here: listing a run's checkpoints (looplab runs) needs no torch

    torch.save({**payload, "format_version": CHECKPOINT_FORMAT}, buffer)
    body = buffer.getvalue()
    digest = hashlib.sha256(body).hexdigest()
    header = MAGIC + f" {CHECKPOINT_FORMAT} sha256={digest} size={len(body)}\n".encode()
    return header + body


def read_checkpoint(path: str | Path) -> Payload:
    """Read and verify one checkpoint file; raise :class:`CheckpointError` naming the problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist") from None
    except OSError as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be read ({exc.strerror})") from None
    header, _, body = data.partition(b"\n")
    match = re.fullmatch(rb"LOOPLAB-CHECKPOINT (\d+) sha256=([0-9a-f]{64}) size=(\d+)", header)
    if match is None:
        raise CheckpointError(f"{str(path)!r} is not a looplab checkpoint (no valid header line)")
    if int(match[1]) != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{str(path)!r} is checkpoint format {int(match[1])}, but this looplab reads format "
            f"{CHECKPOINT_FORMAT}; resume it with the looplab version that wrote it"
        )
    if len(body) != int(match[3]):
        raise CheckpointError(
            f"checkpoint {str(path)!r} is damaged: truncated ({len(body)} of {int(match[3])} bytes)"
        )
    if hashlib.sha256(body).hexdigest().encode() != match[2]:
        raise CheckpointError(f"checkpoint {str(path)!r} is damaged: its checksum does not match")
    try:
        import torch

        payload = torch.load(io.BytesIO(body), map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only refuses anything but tensors and plain values
        raise CheckpointError(
            f"checkpoint {str(path)!r} was refused: it holds objects other than tensors and plain "
            f"values, and loading it could run code ({type(exc).__name__})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format_version") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{str(path)!r} is not a looplab checkpoint (unexpected contents)")
    return payload


def list_checkpoints(directory: Path) -> list[Path]:
    """Checkpoint files in ``directory``, oldest first (by epoch, then batch)."""
    if not directory.is_dir():
        return []
    found = [(m, p) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    found.sort(key=lambda mp: (int(mp[0][1]), int(mp[0][2])))
    return [p for _, p in found]


def rotate(directory: Path, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` checkpoints; return the removed paths."""
    removed = list_checkpoints(directory)[:-keep] if keep > 0 else []
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def remove_temporaries(directory: Path) -> None:
    """Delete half-written ``.*.tmp`` files a killed process left behind."""
    if directory.is_dir():
        for path in directory.glob(".*.tmp"):
            path.unlink(missing_ok=True)


@dataclass
class Found:
    """The newest checkpoint that passed every check, and what was wrong with newer ones."""

    path: Path
    payload: Payload
    damaged: list[str] = field(default_factory=list)  # one message per skipped file
    damaged_paths: list[Path] = field(default_factory=list)

    def set_aside(self) -> None:
        """Rename the damaged newer checkpoints to ``*.damaged`` (once a resume is sure to go
        ahead: a refused command changes nothing on disk)."""
        for path in self.damaged_paths:
            with contextlib.suppress(OSError):
                path.rename(path.with_name(path.name + ".damaged"))


def latest_good(directory: Path, set_aside: bool = True) -> Found:
    """The newest readable checkpoint in ``directory``; damaged newer ones are reported and,
    with ``set_aside``, renamed to ``*.damaged`` so rotation never keeps them over good ones."""
    damaged: list[str] = []
    damaged_paths: list[Path] = []
    for path in reversed(list_checkpoints(directory)):
        try:
            payload = read_checkpoint(path)
        except CheckpointError as exc:
            damaged.append(str(exc))
            damaged_paths.append(path)
            continue
        found = Found(path, payload, damaged, damaged_paths)
        if set_aside:
            found.set_aside()
        return found
    if damaged:
        raise CheckpointError(f"no usable checkpoint in {str(directory)!r}: {damaged[-1]}")
    raise CheckpointError(
        f"no checkpoint in {str(directory)!r}; the run stopped before its first one, "
        "so start it again"
    )
