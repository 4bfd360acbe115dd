"""looplab: the training loop of the course, as a library.

Public names are imported on first use (so ``looplab --help`` does not load torch).
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from looplab.config import Config, make_config
    from looplab.data import Batches, PreparedData, Split, load_dataset, load_prepared, prepare
    from looplab.errors import LooplabError
    from looplab.experiments.compare import compare_batch_sizes
    from looplab.experiments.lr_find import lr_range_test
    from looplab.experiments.sweep import sweep
    from looplab.inspect.gradcheck import gradcheck
    from looplab.inspect.landscape import linear_landscape, network_landscape
    from looplab.inspect.summary import summarize
    from looplab.loop import Callback, History, LoopState, Note, StopTraining
    from looplab.models import MLP, ModelSpec, TaskLoss, build_model
    from looplab.models.init import init_model
    from looplab.pipeline import train
    from looplab.run.fit import fit
    from looplab.run.saved import load_run

# public name -> module that defines it
_EXPORTS = {
    "MLP": "looplab.models",
    "Batches": "looplab.data",
    "Callback": "looplab.loop",
    "Config": "looplab.config",
    "History": "looplab.loop",
    "LoopState": "looplab.loop",
    "LooplabError": "looplab.errors",
    "ModelSpec": "looplab.models",
    "Note": "looplab.loop",
    "PreparedData": "looplab.data",
    "Split": "looplab.data",
    "StopTraining": "looplab.loop",
    "TaskLoss": "looplab.models",
    "build_model": "looplab.models",
    "compare_batch_sizes": "looplab.experiments.compare",
    "fit": "looplab.run.fit",
    "gradcheck": "looplab.inspect.gradcheck",
    "init_model": "looplab.models.init",
    "linear_landscape": "looplab.inspect.landscape",
    "load_dataset": "looplab.data",
    "load_prepared": "looplab.data",
    "load_run": "looplab.run.saved",
    "lr_range_test": "looplab.experiments.lr_find",
    "make_config": "looplab.config",
    "network_landscape": "looplab.inspect.landscape",
    "prepare": "looplab.data",
    "summarize": "looplab.inspect.summary",
    "sweep": "looplab.experiments.sweep",
    "train": "looplab.pipeline",
}

__all__ = [
    "MLP",
    "Batches",
    "Callback",
    "Config",
    "History",
    "LoopState",
    "LooplabError",
    "ModelSpec",
    "Note",
    "PreparedData",
    "Split",
    "StopTraining",
    "TaskLoss",
    "build_model",
    "compare_batch_sizes",
    "fit",
    "gradcheck",
    "init_model",
    "linear_landscape",
    "load_dataset",
    "load_prepared",
    "load_run",
    "lr_range_test",
    "make_config",
    "network_landscape",
    "prepare",
    "summarize",
    "sweep",
    "train",
]


# Importing a submodule ``looplab.X`` sets the attribute ``X`` of this package, and
# ``__getattr__`` is only asked for attributes that are missing: a public name that is also a
# submodule's name would become that module once anything imported it. So there is none.
_SHADOWED = sorted(_EXPORTS.keys() & {m.name for m in pkgutil.iter_modules(__path__)})
if _SHADOWED:
    raise ImportError(f"looplab exports {_SHADOWED}, also names of its submodules: rename one")


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'looplab' has no attribute {name!r}")
