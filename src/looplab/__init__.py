"""looplab: the training loop of the course, as a library.

Public names are imported on first use (so ``looplab --help`` does not load torch).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from looplab.config import Config, make_config
    from looplab.data import Batches, PreparedData, Split, load_dataset, load_prepared, prepare
    from looplab.errors import LooplabError
    from looplab.inspect.gradcheck import gradcheck
    from looplab.inspect.summary import summarize
    from looplab.models import MLP, ModelSpec, TaskLoss, build_model
    from looplab.pipeline import train
    from looplab.runs import load_run
    from looplab.train import Callback, History, LoopState, StopTraining, fit

# public name -> module that defines it
_EXPORTS = {
    "Batches": "looplab.data",
    "Callback": "looplab.train",
    "Config": "looplab.config",
    "History": "looplab.train",
    "LoopState": "looplab.train",
    "LooplabError": "looplab.errors",
    "MLP": "looplab.models",
    "ModelSpec": "looplab.models",
    "PreparedData": "looplab.data",
    "Split": "looplab.data",
    "StopTraining": "looplab.train",
    "TaskLoss": "looplab.models",
    "build_model": "looplab.models",
    "fit": "looplab.train",
    "gradcheck": "looplab.inspect.gradcheck",
    "load_dataset": "looplab.data",
    "load_prepared": "looplab.data",
    "load_run": "looplab.runs",
    "make_config": "looplab.config",
    "prepare": "looplab.data",
    "summarize": "looplab.inspect.summary",
    "train": "looplab.pipeline",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'looplab' has no attribute {name!r}")
