"""Datasets, splits, preprocessing and batches: the first stage of the loop."""

from looplab.data.batches import Batches, LoaderBatches, make_batches
from looplab.data.prepared import PreparedData, load_prepared, prepare
from looplab.data.preprocess import Preprocessor
from looplab.data.registry import DATASETS, dataset_names, load_dataset
from looplab.data.split import Split, split_indices
from looplab.data.tabular import read_csv
from looplab.data.task_data import TaskData

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
