"""One browser session's run: its settings, data, model, and the worker thread in which
looplab's own ``fit`` trains it, with play, pause, step and reset.

Every run starts from its settings alone (seeded data, weights, shuffling and dropout), so a
reset, or the same settings on another page, gives the same run step for step. Frames go to a
:class:`Board` that the page's stream reads.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from looplab.config import Config
from looplab.data.batches import Batches
from looplab.loop.history import History
from looplab.loop.kernel import fit
from looplab.loop.protocols import Optimizer, Scheduler
from looplab.loop.state import LoopState
from looplab.models.mlp import MLP
from looplab.playground import frames
from looplab.playground.catalogue import PlaneData, load
from looplab.playground.control import FramePublisher, RunControl
from looplab.playground.network import PenalizedLoss, build_network
from looplab.playground.settings import Settings
from looplab.playground.uploads import UploadStore
from looplab.run.optimizers import build_torch_optimizer
from looplab.run.schedules import build_scheduler
from looplab.watch.diagnoses import Diagnoses
from looplab.watch.monitors import LayerMonitor

Status = Literal["ready", "running", "paused", "done", "stopped", "diverged", "error"]
CURVE_POINTS = 4000  # loss-curve points kept; past that every other one is dropped


@dataclass
class Board:
    """The latest frame (as JSON text) and the loss curve, written by the training thread and
    read by the page's streams; ``version`` counts frames, ``generation`` curve thinnings."""

    version: int = 0
    frame: str = "{}"
    curve: list[list[float | None]] = field(default_factory=list)
    generation: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def post(self, frame: dict[str, Any], point: list[float | None] | None) -> None:
        text = json.dumps(frames.json_safe(frame), allow_nan=False)
        with self.lock:
            if point is not None:
                if self.curve and self.curve[-1][0] == point[0]:
                    self.curve[-1] = point  # the same step again (a pause): replace it
                else:
                    self.curve.append(point)
                if len(self.curve) > CURVE_POINTS:
                    self.curve = self.curve[::2]
                    self.generation += 1
            self.frame = text
            self.version += 1

    def clear(self) -> None:
        with self.lock:
            self.curve = []
            self.generation += 1


def optimizer_config(settings: Settings) -> Config:
    """The looplab Config fields that name the optimizer and schedule, so they are built by
    looplab's own ``build_torch_optimizer`` and ``build_scheduler``."""
    s = settings
    return Config(
        optimizer=s.optimizer, lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay,
        schedule=s.schedule, warmup=s.warmup, epochs=s.epochs,
    )  # fmt: skip


class Session:
    """A run in the making. ``configure`` builds it from settings (stopping any run under way);
    ``play``, ``pause``, ``step`` and ``reset`` drive it; ``board`` shows it."""

    frame_interval = 1 / 30  # seconds between frames while training: 30 a second
    frame_stretch = 4.0  # ... or 4x the time a frame takes, whichever is longer

    def __init__(self, session_id: str, settings: Settings, uploads: UploadStore) -> None:
        self.id = session_id
        self.uploads = uploads
        self.board = Board()
        self.last_seen = time.monotonic()
        self.streams = 0  # pages reading this session now
        self.data_version = 0
        self.data_json = "{}"
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self.control: RunControl | None = None
        self.publisher: FramePublisher | None = None
        self.status: Status = "ready"
        self.error = ""
        self.configure(settings)

    # ---- building a run -----------------------------------------------------------------

    def configure(self, settings: Settings) -> None:
        """Build the data, model, loss, optimizer and schedule of ``settings`` (raising a
        LooplabError if they cannot be), then show step 0. A run under way is stopped first."""
        data = load(settings, self.uploads)
        model = build_network(settings, data.outputs)
        optimizer: Optimizer = build_torch_optimizer(model.parameters(), optimizer_config(settings))
        scheduler: Scheduler | None = build_scheduler(
            optimizer, optimizer_config(settings), settings.steps_per_epoch
        )
        with self._lock:
            self._halt()
            previous: Settings | None = getattr(self, "settings", None)
            changed_data = previous is None or self._data_key(settings) != self._data_key(previous)
            self.settings, self.data, self.model = settings, data, model
            self.optimizer, self.scheduler = optimizer, scheduler
            self.loss_fn = PenalizedLoss(
                data.task, model, settings.regularization, settings.reg_rate
            )
            self.maker = frames.FrameMaker(data, list(settings.features))
            self.history = History()
            self.state: LoopState | None = None
            self.status, self.error = "ready", ""
            if changed_data or self.data_version == 0:
                self.data_version += 1
                self.data_json = json.dumps(self._data_message(), allow_nan=False)
            self.board.clear()
            self._publish(None)

    @staticmethod
    def _data_key(s: Settings) -> tuple[object, ...]:
        return (s.problem, s.dataset, s.upload, s.classes, s.n, s.noise, s.train_percent, s.seed)

    def reset(self) -> None:
        """Back to step 0 of the same settings (the same data and initial weights)."""
        self.configure(self.settings)

    # ---- driving it ---------------------------------------------------------------------

    def play(self) -> None:
        with self._lock:
            if self.control is not None and self._running():
                self.status = "running"
                self.control.play()
            elif self.status == "ready":
                self._start(steps=None)

    def pause(self) -> None:
        with self._lock:
            if self.control is not None and self._running():
                self.control.pause()

    def step(self) -> None:
        """One batch: one optimizer step, then pause."""
        with self._lock:
            if self.control is not None and self._running():
                self.status = "running"
                self.control.step(1)
            elif self.status == "ready":
                self._start(steps=1)

    def close(self) -> None:
        with self._lock:
            self._halt()

    def _running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _start(self, steps: int | None) -> None:
        self.control = RunControl(self._on_pause, steps)
        self.publisher = FramePublisher(self._publish, self.frame_interval, self.frame_stretch)
        self.status = "running"
        self._thread = threading.Thread(
            target=self._train, name=f"playground-{self.id}", daemon=True
        )
        self._thread.start()

    def _halt(self) -> None:
        """Stop the worker (if any) and wait for it."""
        thread, control = self._thread, self.control
        if thread is not None and control is not None:
            control.stop()
            thread.join(timeout=30)
        self._thread = None

    def _on_pause(self, state: LoopState) -> None:
        self._publish(state, "paused")
        if self.control is not None and not self.control.paused:  # play came while posting
            self.status = "running"

    def _train(self) -> None:
        """The worker: looplab's fit, with the monitors, diagnoses, frames and controls as
        callbacks. The test set is fit's validation data (per-epoch loss, diagnoses)."""
        assert self.control is not None and self.publisher is not None
        s, data = self.settings, self.data
        monitor = LayerMonitor(histogram_epochs=[])
        callbacks = [monitor, Diagnoses(monitor), self.publisher, self.control]
        batches = Batches(data.X_train, data.y_train, s.batch_size,
                          generator=torch.Generator().manual_seed(s.seed))  # fmt: skip
        test = Batches(data.X_test, data.y_test, len(data.X_test), shuffle=False)
        try:
            history = fit(self.model, batches, self.loss_fn, self.optimizer, epochs=s.epochs,
                          task=data.task, val_batches=test, scheduler=self.scheduler,
                          callbacks=callbacks)  # fmt: skip
            self.history = history
            if self.control.diverged:
                final: Status = "diverged"
            elif len(history) >= s.epochs:
                final = "done"
            else:
                final = "stopped"
        except Exception as exc:  # shown on the page; the server goes on
            final, self.error = "error", f"{type(exc).__name__}: {exc}"
        self._publish(self.publisher.state, final)

    # ---- what the page sees -------------------------------------------------------------

    def _publish(self, state: LoopState | None, status: Status | None = None) -> None:
        """Post a frame of the model as it stands (in the training thread while it runs); with
        ``status``, the session takes it once the frame that shows it is posted."""
        shown = status or self.status
        if state is not None:
            self.state = state
            self.history = state.history
        model: MLP = self.model
        scores = self.maker.scores(model)
        step = state.step if state is not None else 0
        epoch = state.epoch if state is not None else 0
        batch = state.batch if state is not None else 0
        lr = float(self.optimizer.param_groups[0]["lr"])
        last = self.history.last
        frame: dict[str, Any] = {
            "status": shown,
            "error": self.error,
            "step": step,
            "epoch": epoch,
            "batch": batch,
            "epochs": self.settings.epochs,
            "steps_per_epoch": self.settings.steps_per_epoch,
            "lr": lr,
            "scores": scores,
            "epoch_row": last,
            "grad_norms": frames.gradient_norms(model),
            "weights": frames.weights(model),
            "notes": [n.to_dict() | {"line": str(n)} for n in self.history.notes],
            "data_version": self.data_version,
            **self.maker.surfaces(model),
        }
        point = frames.json_safe([float(step), scores["train_loss"], scores["test_loss"]])
        self.board.post(frame, point)
        if status is not None:
            self.status = status

    def _data_message(self) -> dict[str, Any]:
        """The points (plane coordinates), targets and split, sent when the data changes."""
        d: PlaneData = self.data
        return {
            "version": self.data_version,
            "task": d.task,
            "classes": d.class_names,
            "value_scale": d.value_scale,
            "train": _points(d, d.train),
            "test": _points(d, d.test),
        }

    def summary(self) -> dict[str, Any]:
        """The session as the API reports it."""
        return {
            "id": self.id,
            "status": self.status,
            "settings": self.settings.model_dump(mode="json"),
            "epochs_done": len(self.history),
        }


def _points(d: PlaneData, rows: Any) -> list[list[float]]:
    """``[x1, x2, target]`` per row, rounded for the wire."""
    return [[round(float(d.points[i, 0]), 4), round(float(d.points[i, 1]), 4),
             float(d.y[i]) if d.task == "regression" else int(d.y[i])] for i in rows]  # fmt: skip
