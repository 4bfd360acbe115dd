"""The one-call ``fit(model, data, config)`` of the README: build what the config asks for,
then run the loop (:func:`looplab.loop.fit`) on it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import nn

from looplab import loop
from looplab.config import Config
from looplab.data.prepared import PreparedData
from looplab.loop.events import Callback
from looplab.loop.history import History
from looplab.loop.snapshot import Snapshot
from looplab.run.build import build
from looplab.run.distributed import Distributed, snapshot_for_rank
from looplab.run.resume import check_config, load_payload
from looplab.run.threads import torch_threads


def fit(
    model: nn.Module,
    data: PreparedData,
    config: Config,
    callbacks: Sequence[Callback] = (),
    resume: str | Path | Snapshot | None = None,
    place: Distributed | None = None,
) -> History:
    """Train ``model`` on ``data.train`` as ``config`` says, validating on ``data.val`` after
    every epoch; return the per-epoch history. With early stopping on, the best weights are
    restored at the end. ``resume`` (a checkpoint file or payload) continues a run exactly
    where it stopped; a checkpoint that records its run's config must match ``config``.
    ``place``: this process's rank in a data-parallel job (:mod:`looplab.run.distributed`)."""
    built = build(model, data, config, place)
    snapshot = None
    if resume is not None:
        snapshot = load_payload(resume)
        if "config" in snapshot:
            check_config(snapshot, config)
        if place is not None:  # this rank's own generators and share of the running sums
            snapshot = snapshot_for_rank(snapshot, place)
    with torch_threads(built.threads), built.one_blas_thread():
        return loop.fit(
            built.model,
            built.train,
            built.loss_fn,
            built.optimizer,
            epochs=config.epochs,
            task=data.task,
            val_batches=built.val,
            scheduler=built.scheduler,
            callbacks=callbacks,
            patience=config.patience,
            resume=snapshot,
            target_scale=data.target_scale,  # MAE in the target's units
            accumulate=config.accumulate,
            clip_norm=config.clip_norm,
            reduce_metrics=place.sum if place is not None else None,
        )
