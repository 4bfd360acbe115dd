"""Models built from a spec, the task's loss, and predictions. Imports only torch."""

from looplab.models.losses import TaskLoss, predict_labels, predict_output
from looplab.models.mlp import ACTIVATION_LAYERS, MLP, ModelSpec, build_model

__all__ = [
    "ACTIVATION_LAYERS",
    "MLP",
    "ModelSpec",
    "TaskLoss",
    "build_model",
    "predict_labels",
    "predict_output",
]
