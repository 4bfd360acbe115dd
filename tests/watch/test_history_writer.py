"""history.csv grows by one appended line per epoch and always equals the run's history."""

from __future__ import annotations

import os
from pathlib import Path

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.loop.events import Callback
from looplab.loop.history import History, Row
from looplab.loop.state import LoopState
from looplab.models.mlp import build_model
from looplab.run.build import model_spec
from looplab.run.fit import fit
from looplab.watch.checkpointer import Checkpointer
from looplab.watch.history_writer import HistoryWriter


class FileWatcher(Callback):
    """After the writer, per epoch: the file's inode and its rows read back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.inodes: list[int] = []
        self.matches: list[bool] = []

    def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
        self.inodes.append(os.stat(self.path).st_ino)
        self.matches.append(History.from_csv(self.path).rows == state.history.rows)


def test_each_epoch_appends_one_row_and_the_file_equals_the_history(tmp_path: Path) -> None:
    config = Config(epochs=6, n=100, device="cpu").validate()
    data = load_prepared(config)
    path = tmp_path / "history.csv"
    watcher = FileWatcher(path)
    history = fit(build_model(model_spec(config, data), seed=0), data, config,
                  [HistoryWriter(path), watcher])  # fmt: skip
    assert watcher.matches == [True] * 6  # exact floats: every row read back equals the row
    # written whole once (the first row brings the header), then appended in place
    assert len(set(watcher.inodes[1:])) == 1
    assert History.from_csv(path).rows == history.rows


def test_a_resume_drops_the_rows_written_after_the_checkpoint(tmp_path: Path) -> None:
    config = Config(epochs=4, n=100, device="cpu").validate()
    data = load_prepared(config)
    path = tmp_path / "history.csv"
    saver = Checkpointer(tmp_path / "ckpt", every_epochs=1, keep=10)
    fit(build_model(model_spec(config, data), seed=0), data, config, [saver, HistoryWriter(path)])
    assert len(History.from_csv(path)) == 4
    after_two = next(p for p in saver.written if p.name.startswith("ckpt-e0002-b000000"))
    seen: list[int] = []

    class RowsAtStart(Callback):
        def on_fit_start(self, state: LoopState) -> None:
            seen.append(len(History.from_csv(path)))

    resumed = fit(build_model(model_spec(config, data), seed=0), data, config,
                  [HistoryWriter(path), RowsAtStart()], resume=after_two)  # fmt: skip
    assert seen == [2]  # rows 3 and 4 of the first run are gone before training goes on
    assert History.from_csv(path).rows == resumed.rows and len(resumed) == 4


def test_a_last_line_cut_short_is_left_out_not_read_as_other_numbers(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    History([{"epoch": 1.0, "train_loss": 0.123456}, {"epoch": 2.0, "train_loss": 0.1}]).to_csv(
        path
    )
    text = path.read_text()
    path.write_text(text[: text.rindex("0.1") + 2])  # "2,0." : the crash cut the last cell
    assert History.from_csv(path).rows == [{"epoch": 1.0, "train_loss": 0.123456}]
