"""The training path: snapshots of the weights as training goes, for the loss-landscape pictures.

:class:`PathRecorder` is a callback. It keeps the initial weights, then the weights after every
step (``every="step"``, for tiny models such as linear regression's (w, b)) or at every epoch
end (``every="epoch"``, what a run saves as ``path.pt``), and the final weights (after early
stopping restored the best ones). Snapshots are flat float32 vectors on the CPU, so a path of
E epochs of a P-parameter model costs about 4 P (E + 2) bytes; above ``max_bytes`` only every
k-th epoch is kept (the first and last snapshot always are).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from looplab.errors import RunError
from looplab.files import write_atomic
from looplab.loop.events import Callback
from looplab.loop.history import History, Row
from looplab.loop.state import LoopState

PATH_FILE = "path.pt"
PATH_MAX_BYTES = 16 * 2**20  # 16 MiB: a run's path.pt never grows past about this


def flat_parameters(model: nn.Module) -> Tensor:
    """Every parameter, in ``named_parameters`` order, as one float32 CPU vector (P,)."""
    return torch.cat([p.detach().reshape(-1).float().cpu() for p in model.parameters()])


@dataclass
class TrainingPath:
    """Snapshots ``points`` (k, P) of the flat parameters, each tagged with the optimizer
    ``steps`` and finished ``epochs`` at which it was taken; ``names`` and ``shapes`` say how
    the flat vector splits back into named parameters."""

    names: list[str]
    shapes: list[tuple[int, ...]]
    points: Tensor  # (k, P)
    steps: list[int] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)

    def save(self, path: Path) -> None:
        """Write the path atomically (a crash or a full disk leaves no half of it)."""
        buffer = io.BytesIO()
        torch.save(
            {
                "names": self.names,
                "shapes": [list(s) for s in self.shapes],
                "points": self.points,
                "steps": self.steps,
                "epochs": self.epochs,
            },
            buffer,
        )
        write_atomic(path, buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> TrainingPath:
        try:
            d = torch.load(path, map_location="cpu", weights_only=True)
            return cls(
                list(d["names"]),
                [tuple(s) for s in d["shapes"]],
                d["points"],
                list(d["steps"]),
                list(d["epochs"]),
            )
        except Exception as exc:
            raise RunError(
                f"{str(path)!r} cannot be read as a training path ({type(exc).__name__})"
            ) from None


class PathRecorder(Callback):
    """Record the weights at the start, after each step or epoch, and at the end of ``fit``."""

    def __init__(
        self, every: Literal["step", "epoch"] = "epoch", max_bytes: int = PATH_MAX_BYTES
    ) -> None:
        self.every = every
        self.max_bytes = max_bytes
        self.stride = 1
        self.points: list[Tensor] = []
        self.steps: list[int] = []
        self.epochs: list[int] = []
        self.names: list[str] = []
        self.shapes: list[tuple[int, ...]] = []

    def _take(self, state: LoopState, epoch: int) -> None:
        self.points.append(flat_parameters(state.model))
        self.steps.append(state.step)
        self.epochs.append(epoch)

    def on_fit_start(self, state: LoopState) -> None:
        named = list(state.model.named_parameters())
        self.names = [n for n, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        n_params = sum(p.numel() for _, p in named)
        snapshots = state.epochs + 2
        self.stride = max(1, math.ceil(4 * n_params * snapshots / self.max_bytes))
        self._take(state, state.epoch)

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        if self.every == "step":
            self._take(state, epoch - 1)

    def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
        if self.every == "epoch" and epoch % self.stride == 0:
            self._take(state, epoch)

    def on_fit_end(self, state: LoopState, history: History) -> None:
        final = flat_parameters(state.model)
        if not torch.equal(final, self.points[-1]):  # early stopping restored older weights
            restored = state.stopper.best_state is not None
            self.points.append(final)
            self.steps.append(state.step)
            self.epochs.append(state.stopper.best_epoch if restored else state.epoch)

    @property
    def path(self) -> TrainingPath:
        return TrainingPath(
            self.names, self.shapes, torch.stack(self.points), self.steps, self.epochs
        )
