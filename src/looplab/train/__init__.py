"""The training loop and what hangs on it: callbacks, metrics, history, early stopping."""

from looplab.train.callbacks import Callback, CallbackList, StopTraining
from looplab.train.early_stopping import EarlyStopping
from looplab.train.history import History
from looplab.train.loop import fit, start
from looplab.train.metrics import RunningMetrics, evaluate
from looplab.train.optimizers import build_optimizer
from looplab.train.state import LoopState, seed_everything

__all__ = [
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LoopState",
    "RunningMetrics",
    "StopTraining",
    "build_optimizer",
    "evaluate",
    "fit",
    "seed_everything",
    "start",
]
