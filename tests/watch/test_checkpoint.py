"""Checkpoint files: atomic writes, checksums, hostile files, rotation and fallback."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import pytest
import torch

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.files import write_atomic
from looplab.models.mlp import build_model
from looplab.run.build import model_spec
from looplab.run.fit import fit
from looplab.watch.checkpoint import (
    CheckpointError,
    checkpoint_name,
    encode,
    latest_good,
    list_checkpoints,
    read_checkpoint,
    rotate,
)
from looplab.watch.checkpointer import Checkpointer


def small_payload(value: float = 1.0) -> dict[str, object]:
    return {"format_version": 1, "w": torch.full((3, 2), value), "step": 7, "note": "x"}


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    path = tmp_path / checkpoint_name(2, 5)
    write_atomic(path, encode(small_payload(0.5)))
    back = read_checkpoint(path)
    assert path.name == "ckpt-e0002-b000005.pt"
    assert torch.equal(back["w"], torch.full((3, 2), 0.5))
    assert back["step"] == 7
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ckpt-e0001-b000000.pt"
    write_atomic(path, encode(small_payload(1.0)))

    class Boom(Exception):
        pass

    def failing_fsync(fd: int) -> None:
        raise Boom

    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", failing_fsync)
        with pytest.raises(Boom):
            write_atomic(path, encode(small_payload(2.0)))
    assert torch.equal(read_checkpoint(path)["w"], torch.full((3, 2), 1.0))
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_truncated_checkpoint_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "ckpt-e0001-b000000.pt"
    data = encode(small_payload())
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(CheckpointError, match=r"damaged: truncated \(\d+ of \d+ bytes\)") as info:
        read_checkpoint(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("where", [0.3, 0.6, 0.95])
def test_bit_flip_is_detected_by_the_checksum(tmp_path: Path, where: float) -> None:
    path = tmp_path / "ckpt-e0001-b000000.pt"
    data = bytearray(encode(small_payload()))
    header = data.index(b"\n") + 1
    i = header + int((len(data) - header) * where)
    data[i] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="damaged: its checksum does not match"):
        read_checkpoint(path)


def test_foreign_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "ckpt-e0001-b000000.pt"
    torch.save({"w": torch.ones(2)}, path)  # a plain torch file: no header, no checksum
    with pytest.raises(CheckpointError, match="is not a looplab checkpoint"):
        read_checkpoint(path)


class RunsCode:
    """Unpickling this calls os.system: the classic hostile pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_hostile_checkpoint_is_refused_and_its_code_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    buffer = io.BytesIO()
    torch.save({"format_version": 1, "evil": RunsCode(marker)}, buffer)  # valid checksum below
    body = buffer.getvalue()
    import hashlib

    header = f"LOOPLAB-CHECKPOINT 1 sha256={hashlib.sha256(body).hexdigest()} size={len(body)}\n"
    path = tmp_path / "ckpt-e0001-b000000.pt"
    path.write_bytes(header.encode() + body)
    # The unsafe loader would run it: proof that the file really is hostile.
    assert pickle.loads(pickle.dumps(RunsCode(tmp_path / "control"))) == 0
    assert (tmp_path / "control").exists()
    with pytest.raises(CheckpointError, match=r"refused: .* loading it could run code"):
        read_checkpoint(path)
    assert not marker.exists()


def test_rotation_keeps_the_newest_k(tmp_path: Path) -> None:
    for epoch, batch in [(0, 5), (1, 0), (0, 10), (2, 3), (10, 0)]:
        write_atomic(tmp_path / checkpoint_name(epoch, batch), encode(small_payload()))
    removed = rotate(tmp_path, keep=2)
    assert [p.name for p in removed] == [
        "ckpt-e0000-b000005.pt",
        "ckpt-e0000-b000010.pt",
        "ckpt-e0001-b000000.pt",
    ]
    assert [p.name for p in list_checkpoints(tmp_path)] == [
        "ckpt-e0002-b000003.pt",
        "ckpt-e0010-b000000.pt",
    ]


def test_latest_good_skips_damaged_files_and_says_which(tmp_path: Path) -> None:
    for k in range(3):
        write_atomic(tmp_path / checkpoint_name(k, 0), encode(small_payload(float(k))))
    newest = tmp_path / checkpoint_name(2, 0)
    newest.write_bytes(newest.read_bytes()[:-7])
    found = latest_good(tmp_path)
    assert found.path.name == checkpoint_name(1, 0)
    assert torch.equal(found.payload["w"], torch.full((3, 2), 1.0))
    assert len(found.damaged) == 1 and str(newest) in found.damaged[0]
    assert (tmp_path / (newest.name + ".damaged")).exists()  # set aside, out of the rotation


def test_no_usable_checkpoint_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no checkpoint in"):
        latest_good(tmp_path)
    path = tmp_path / checkpoint_name(0, 3)
    path.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=r"no usable checkpoint .* not a looplab checkpoint"):
        latest_good(tmp_path)


def test_checkpointer_writes_every_n_steps_and_epochs_and_at_the_end(tmp_path: Path) -> None:
    config = Config(epochs=3, n=100, batch_size=16, device="cpu").validate()  # 5 batches/epoch
    data = load_prepared(config)
    model = build_model(model_spec(config, data), seed=0)
    saver = Checkpointer(tmp_path, every_epochs=2, every_steps=4, keep=100,
                         extra={"config": config.to_dict()})  # fmt: skip
    fit(model, data, config, [saver])
    names = [p.name for p in saver.written]
    assert names == [
        "ckpt-e0000-b000004.pt",  # step 4
        "ckpt-e0001-b000003.pt",  # step 8
        "ckpt-e0002-b000000.pt",  # epoch 2 done (written as epoch 3 starts)
        "ckpt-e0002-b000002.pt",  # step 12
        "ckpt-e0003-b000000.pt",  # the end
    ]
    final = read_checkpoint(saver.written[-1])
    assert final["finished"] and final["step"] == 15 and len(final["history"]["rows"]) == 3
    for key in ("model", "optimizer", "rng", "stopper", "config", "history", "running"):
        assert key in final
    assert final["config"] == config.to_dict() and final["format_version"] == 1
    assert set(final["rng"]) == {"python", "numpy", "torch", "shuffle", "shuffle_epoch"}
