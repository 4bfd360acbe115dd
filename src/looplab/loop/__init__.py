"""The loop: ``fit`` and what it is made of (state, events, history, metrics, early stopping,
snapshots for exact resume, and the Protocols of what it is given). It knows no config, no
run directory, no engine and draws nothing."""

from looplab.loop.early_stopping import EarlyStopping
from looplab.loop.events import Callback, CallbackList, StopTraining
from looplab.loop.history import History, Note, Row
from looplab.loop.kernel import fit
from looplab.loop.metrics import RunningMetrics, evaluate
from looplab.loop.protocols import BatchSource, LossFn, Optimizer, Scheduler
from looplab.loop.snapshot import Snapshot, capture, restore
from looplab.loop.state import LoopState

__all__ = [
    "BatchSource",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LoopState",
    "LossFn",
    "Note",
    "Optimizer",
    "Row",
    "RunningMetrics",
    "Scheduler",
    "Snapshot",
    "StopTraining",
    "capture",
    "evaluate",
    "fit",
    "restore",
]
