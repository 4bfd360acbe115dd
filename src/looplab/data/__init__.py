"""Datasets, splits, preprocessing and batches: the first stage of the loop.

Names are imported on first use, so that importing one module of ``looplab.data`` (the
dataset table for ``looplab datasets``, say) does not load torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from looplab.data.batches import Batches, LoaderBatches, make_batches
    from looplab.data.prepared import PreparedData, load_prepared, prepare
    from looplab.data.preprocess import Preprocessor
    from looplab.data.registry import DATASETS, dataset_names, load_dataset
    from looplab.data.split import Split, split_indices
    from looplab.data.tabular import read_csv
    from looplab.data.task_data import TaskData

# public name -> module that defines it
_EXPORTS = {
    "DATASETS": "looplab.data.registry",
    "Batches": "looplab.data.batches",
    "LoaderBatches": "looplab.data.batches",
    "PreparedData": "looplab.data.prepared",
    "Preprocessor": "looplab.data.preprocess",
    "Split": "looplab.data.split",
    "TaskData": "looplab.data.task_data",
    "dataset_names": "looplab.data.registry",
    "load_dataset": "looplab.data.registry",
    "load_prepared": "looplab.data.prepared",
    "make_batches": "looplab.data.batches",
    "prepare": "looplab.data.prepared",
    "read_csv": "looplab.data.tabular",
    "split_indices": "looplab.data.split",
}

__all__ = [
    "DATASETS",
    "Batches",
    "LoaderBatches",
    "PreparedData",
    "Preprocessor",
    "Split",
    "TaskData",
    "dataset_names",
    "load_dataset",
    "load_prepared",
    "make_batches",
    "prepare",
    "read_csv",
    "split_indices",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'looplab.data' has no attribute {name!r}")
