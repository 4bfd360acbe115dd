"""A finished run's model file, ``model.pt``, written and read back ready to predict.

``model.pt`` is a plain dict of tensors, strings and numbers, so ``torch.load(weights_only=True)``
reads it without unpickling code: weights, the model spec, the preprocessing and class names.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from looplab.config import Config, from_saved, load_toml
from looplab.data.prepared import PreparedData
from looplab.data.preprocess import Preprocessor
from looplab.errors import RunError
from looplab.files import write_atomic
from looplab.models.cnn import CNN, build_network
from looplab.models.mlp import MLP, ModelSpec

# defined with the run directory (listing runs needs them without torch), re-exported here
from looplab.run.directory import FORMAT_VERSION as FORMAT_VERSION
from looplab.run.directory import MODEL_FILE as MODEL_FILE
from looplab.task import Task


def save_model(path: Path, model: nn.Module, spec: ModelSpec, data: PreparedData) -> None:
    """Write weights with everything a prediction needs: spec, preprocessing and class names."""
    payload: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "spec": spec.to_dict(),
        "task": data.task,
        "feature_names": list(data.feature_names),
        "class_names": list(data.class_names),
        "encoding": data.encoding,
        "preprocessor": data.preprocessor.state_dict() if data.preprocessor else None,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_atomic(path, buffer.getvalue())  # a full disk leaves no half-written model.pt


@dataclass
class SavedRun:
    """A run read back from its directory, ready to predict."""

    path: Path
    model: MLP | CNN
    spec: ModelSpec
    task: Task
    feature_names: list[str]
    class_names: list[str]
    encoding: dict[str, Any]
    preprocessor: Preprocessor | None
    config: Config | None


def load_run(path: str | Path) -> SavedRun:
    """Read a run directory (or its ``model.pt``) and rebuild the trained model in eval mode."""
    path = Path(path)
    run_dir = path.parent if path.is_file() else path
    file = path if path.is_file() else path / MODEL_FILE
    if not run_dir.exists():
        raise RunError(
            f"run {str(run_dir)!r} does not exist; `looplab train` writes runs under runs/"
        )
    if not file.exists():
        raise RunError(f"{str(run_dir)!r} has no {MODEL_FILE}; it is not a finished looplab run")
    try:
        payload = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged or foreign file: say so in one line
        raise RunError(
            f"{str(file)!r} cannot be read as a looplab model ({type(exc).__name__})"
        ) from None
    if not isinstance(payload, dict) or "format_version" not in payload:
        raise RunError(f"{str(file)!r} is not a looplab model file")
    if payload.get("kind") == "gpt":
        raise RunError(
            f"{str(file)!r} is a language model (looplab gpt), not one that predicts rows; "
            f"write text with it: looplab gpt --sample {run_dir}"
        )
    if payload["format_version"] != FORMAT_VERSION:
        raise RunError(
            f"{str(file)!r} was written in looplab format {payload['format_version']}, but this "
            f"looplab reads format {FORMAT_VERSION}; "
            "use the looplab version that wrote it, or train again"
        )
    try:
        spec = ModelSpec.from_dict(payload["spec"])
        model = build_network(spec)
        model.load_state_dict(payload["state_dict"])
        task, features = payload["task"], list(payload["feature_names"])
        classes = list(payload["class_names"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise RunError(
            f"{str(file)!r} is damaged or incomplete ({type(exc).__name__}: {exc}); train again"
        ) from None
    model.eval()
    pre = payload.get("preprocessor")
    config_file = run_dir / "config.toml"
    return SavedRun(
        path=run_dir,
        model=model,
        spec=spec,
        task=task,
        feature_names=features,
        class_names=classes,
        encoding=payload.get("encoding") or {},
        preprocessor=Preprocessor.from_state_dict(pre) if pre else None,
        config=from_saved(load_toml(config_file)) if config_file.exists() else None,
    )
