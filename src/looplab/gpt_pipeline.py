"""A whole ``looplab gpt`` run: text, model, ``fit``, then the run directory and its report.

The pieces are built in :mod:`looplab.experiments.gpt`; the loop is :func:`looplab.loop.fit`,
the same as ``looplab train``'s (see :mod:`looplab.pipeline`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import tomli_w

from looplab import loop
from looplab.config import Config
from looplab.experiments.gpt import KIND, GPTParts, GPTRun, build_parts, resume_point
from looplab.experiments.gpt_config import GPTConfig
from looplab.experiments.gpt_sampling import MODEL_FILE, SAMPLES_FILE, SampleRecorder, save_gpt
from looplab.files import write_atomic
from looplab.loop.events import Callback
from looplab.loop.snapshot import history_of
from looplab.models.gpt import FlatLogits
from looplab.models.losses import TaskLoss
from looplab.report.gpt import write_gpt_report
from looplab.run.directory import create_run_dir, status_of, write_status
from looplab.run.threads import torch_threads
from looplab.watch.checkpoint import CHECKPOINT_DIR
from looplab.watch.checkpointer import Checkpointer
from looplab.watch.clipping import ClipCounter
from looplab.watch.guard import DivergenceGuard
from looplab.watch.history_writer import HistoryWriter
from looplab.watch.interrupt import SignalCatcher


def train_gpt(
    config: GPTConfig,
    callbacks: Sequence[Callback] = (),
    *,
    resume: Path | None = None,
    signals: SignalCatcher | None = None,
    on_note: Callable[[str], None] = lambda message: None,
) -> GPTRun:
    """Train a GPT as ``config`` says and write its run directory under ``config.out``, or
    continue the interrupted run ``resume`` exactly. ``on_note`` hears what the run is (text,
    baselines, model) before it trains. With ``signals``, a caught Ctrl-C or SIGTERM
    checkpoints and raises ``Interrupted``."""
    config.validate()
    payload = resume_point(resume, config) if resume is not None else None
    parts = build_parts(config)
    for note in describe(parts):
        on_note(note)
    run_dir = resume or create_run_dir(config.out, config.name, Config(), default_name(config))
    if signals is not None:
        signals.run_dir = run_dir  # for the "resume with" line after an interruption
    recorder = SampleRecorder(parts.gpt, parts.data.vocab, run_dir / SAMPLES_FILE,
                              config.samples_every, config.sample_length, config.seed,
                              config.eval_every)  # fmt: skip
    clips = ClipCounter()  # clip_frac and grad_norm in each epoch's row, when clipping
    # the loop's events fire once per update, so a checkpoint is never inside an accumulation
    # group: every N updates, each epoch, and on a signal at the end of the group it arrives in
    checkpoints = Checkpointer(run_dir / CHECKPOINT_DIR, 1, config.checkpoint_steps,
                               config.keep_checkpoints, signals=signals,
                               extra={"gpt_config": config.to_dict()},
                               parts={"clips": clips})  # fmt: skip
    if payload is not None and "clips" in payload:
        clips.load_state_dict(payload["clips"])
    history_file = HistoryWriter(run_dir / "history.csv")
    guard = DivergenceGuard(rolls_back=True)  # no --on-nan here: its advice is a lower --lr
    watchers = [guard, clips, checkpoints, history_file, recorder, *callbacks]
    model = FlatLogits(parts.gpt)  # (batch, time) ids -> (batch * time, vocab) logits
    with status_of(run_dir, kind=KIND):
        write_atomic(run_dir / "config.toml", tomli_w.dumps(config.to_dict()).encode())
        if payload is not None and payload["finished"]:  # killed after its final checkpoint
            model.load_state_dict(payload["model"])
            history = history_of(payload)
        else:
            with torch_threads(parts.threads):
                history = loop.fit(
                    model,
                    parts.train,  # an epoch: eval_every updates on random windows
                    TaskLoss("multiclass"),  # cross-entropy, mean over every position
                    parts.optimizer,  # AdamW in two groups
                    epochs=config.epochs,
                    task="multiclass",  # next-character accuracy beside the loss
                    val_batches=parts.val,  # the held-out text, evaluated after each epoch
                    scheduler=parts.schedule,  # warm-up, then cosine: once per update
                    callbacks=watchers,
                    resume=payload,
                    accumulate=config.accumulate,  # batches whose mean gradient is one update
                    clip_norm=config.clip_norm or None,  # 0: no clipping
                )
        result = GPTRun(config, parts.data, parts.gpt, history, run_dir, parts.threads,
                        recorder.samples, parts.data.baselines())  # fmt: skip
        write_run_files(result)
        write_status(run_dir, "complete", kind=KIND)
    return result


def describe(parts: GPTParts) -> list[str]:
    """What the run is, in the lines the CLI prints before training."""
    d, gpt = parts.data, parts.gpt
    b = d.baselines()
    s = gpt.spec
    lines = [
        f"text: {d.corpus.description}, {len(d.train) + len(d.val):,} characters "
        f"({len(d.train):,} to train on, the last {len(d.val):,} held out); V = {len(d.vocab)} "
        "symbols (the training text's characters and one unknown)",
        f"baselines in nats per character: uniform ln V {b.uniform:.3f}, unigram H1 "
        f"{b.unigram:.3f}, bigram H2 {b.bigram:.3f}",
        f"model: GPT {s.layers} layers x {s.dim} dims, {s.heads} heads, context {s.context}: "
        f"{gpt.parameter_count():,} parameters; {parts.threads} CPU "
        f"thread{'s' * (parts.threads > 1)}",
    ]
    if d.unknown_in_val:
        lines.append(f"{len(d.unknown_in_val)} held-out characters are not in the training "
                     f"text and are read as the unknown symbol: {d.unknown_in_val!r}")  # fmt: skip
    return lines


def default_name(config: GPTConfig) -> str:
    """``gpt-pydoc-20250101-120000``: the corpus (a file's stem) and the time."""
    corpus = Path(config.corpus).stem if config.corpus != "pydoc" else "pydoc"
    return f"gpt-{corpus}-{time.strftime('%Y%m%d-%H%M%S')}"


def write_run_files(result: GPTRun) -> None:
    """The finished run's files: history, model, report."""
    result.history.to_csv(result.run_dir / "history.csv")
    save_gpt(result.run_dir / MODEL_FILE, result.gpt, result.data.vocab)
    write_gpt_report(result)
