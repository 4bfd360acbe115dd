r"""``looplab gpt``: a tiny character-level GPT trained by looplab's own loop.

Nothing here is a second training loop. The text becomes a :class:`~looplab.loop.protocols.
BatchSource` (random windows), the GPT becomes a model whose every position is one example
(:class:`~looplab.models.gpt.FlatLogits`), and :func:`looplab.loop.fit` trains it with the same
checkpoints, exact resume, divergence guard, progress bar and history as ``looplab train``.
What a language model adds is given to ``fit`` as its ordinary arguments:

- an *epoch* is ``eval_every`` updates on random windows (not a pass over the text), so the
  loop's validation after every epoch is "evaluate the held-out text every N updates";
- AdamW with nanoGPT's rule for weight decay: every parameter with 2 or more dimensions (the
  attention and MLP matrices, the token and position embeddings) decays, the 1-D ones (layer
  norm gains) do not;
- the learning rate warms up linearly over ``warmup`` updates, then follows a cosine down to
  ``min_lr`` at the last update (nanoGPT's ``get_lr``);
- gradient accumulation and clipping, by the loop itself (``fit(accumulate=, clip_norm=)``):
  the schedule moves once per update, not once per batch;
- samples of text at several epochs (:class:`~looplab.experiments.gpt_sampling.SampleRecorder`).

The loss is cross-entropy in nats per character; the report compares it with what simpler
models reach on the same text: $\ln V$ (a uniform guess), the unigram entropy $H_1$ and the
bigram conditional entropy $H_2$.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from looplab.data.text import (
    Blocks,
    Corpus,
    RandomWindows,
    Vocabulary,
    bigram_entropy,
    load_corpus,
    split_text,
    unigram_entropy,
)
from looplab.errors import ConfigError, RunError
from looplab.experiments.gpt_config import HARMLESS_FIELDS, GPTConfig, gpt_config_from_dict
from looplab.experiments.gpt_sampling import Sample
from looplab.loop.history import History
from looplab.loop.snapshot import Snapshot
from looplab.models.gpt import GPT, GPTSpec, build_gpt
from looplab.run.build import seed_everything
from looplab.run.directory import read_status
from looplab.run.optimizers import torch_classes
from looplab.run.schedules import LoopSchedule
from looplab.run.threads import auto_threads
from looplab.watch.checkpoint import CHECKPOINT_DIR, latest_good

KIND = "gpt"  # the run directory's kind in status.json
VAL_WINDOWS = 64  # held-out windows per evaluation batch: no gradients, so large is cheap
BETA1 = 0.9


@dataclass(frozen=True)
class Baselines:
    """What simpler models reach on the training text, in nats per character."""

    uniform: float  # ln V: every character equally likely
    unigram: float  # H1: each character's frequency, no context
    bigram: float  # H2: the next character's frequency given the one before


@dataclass
class TextData:
    """The corpus cut in two and encoded with the training part's vocabulary."""

    corpus: Corpus
    vocab: Vocabulary
    train: Tensor  # (characters,) ids
    val: Tensor  # (characters,) ids
    unknown_in_val: str  # held-out characters outside the vocabulary, each once

    def baselines(self) -> Baselines:
        v = len(self.vocab)
        return Baselines(
            float(torch.log(torch.tensor(float(v)))),
            unigram_entropy(self.train, v),
            bigram_entropy(self.train, v),
        )


def prepare_text(config: GPTConfig) -> TextData:
    """Load the corpus, hold out its end, build the vocabulary of the rest, encode both."""
    corpus = load_corpus(config.corpus)
    train_text, val_text = split_text(corpus.text, config.val_fraction)
    vocab = Vocabulary(train_text)
    data = TextData(corpus, vocab, vocab.encode(train_text), vocab.encode(val_text),
                    vocab.unknown(val_text))  # fmt: skip
    for part, ids in (("training", data.train), ("held-out", data.val)):
        if len(ids) < config.context + 1:
            raise ConfigError(
                f"the {part} text has {len(ids)} characters, fewer than one window of "
                f"{config.context + 1}; lower --context or give a longer --corpus"
            )
    return data


def optimizer_groups(gpt: GPT, weight_decay: float) -> list[dict[str, Any]]:
    """nanoGPT's rule: parameters with 2+ dimensions (matrices, embeddings) decay, the others
    (layer-norm gains, biases if there were any) do not. The tied embedding counts once."""
    params = list(gpt.parameters())
    return [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay,
         "name": "decayed"},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0, "name": "not decayed"},
    ]  # fmt: skip


def build_optimizer(gpt: GPT, config: GPTConfig) -> torch.optim.AdamW:
    """AdamW on :func:`optimizer_groups` (the loop accumulates and clips before its step):
    ``torch.optim.AdamW`` itself, without its import of ``torch._dynamo``."""
    adamw = torch_classes()[3]
    return adamw(
        optimizer_groups(gpt, config.weight_decay), lr=config.lr, betas=(BETA1, config.beta2)
    )


def build_schedule(optimizer: torch.optim.Optimizer, config: GPTConfig) -> LoopSchedule:
    r"""Update $t$ (0-based) uses $\eta\,(t+1)/(W+1)$ while $t < W$, then
    $\eta_{min} + \tfrac12(\eta - \eta_{min})(1 + \cos(\pi (t - W) / (N - W)))$: torch's
    ``LinearLR`` then ``CosineAnnealingLR``, stepped by the loop once per update (every
    ``accumulate`` batches)."""
    s = torch.optim.lr_scheduler
    inner, w, n = optimizer, config.warmup, config.iterations
    decay = s.CosineAnnealingLR(inner, T_max=n - w, eta_min=config.min_lr)
    scheduler: s.LRScheduler = decay
    if w > 0:
        ramp = s.LinearLR(inner, 1 / (w + 1), 1.0, total_iters=w)
        scheduler = s.SequentialLR(inner, [ramp, decay], milestones=[w])
    plan = f"warmup {w} then cosine to {config.min_lr:g} over {n} updates"
    return LoopSchedule(scheduler, per_step=True, plan=plan)


@dataclass
class GPTParts:
    """What :func:`looplab.loop.fit` is given for a gpt config (``gpt`` is wrapped in
    :class:`~looplab.models.gpt.FlatLogits` for it), and the text they were built from."""

    data: TextData
    gpt: GPT
    train: RandomWindows
    val: Blocks
    optimizer: torch.optim.AdamW
    schedule: LoopSchedule
    threads: int  # torch CPU threads while training: config.threads, or chosen when 0


def build_parts(config: GPTConfig) -> GPTParts:
    """Seed everything, then the text, the model, its batches, optimizer and schedule."""
    data = prepare_text(config)
    spec = GPTSpec(len(data.vocab), config.context, config.layers, config.heads, config.dim,
                   config.dropout)  # fmt: skip
    gpt = build_gpt(spec, seed=config.seed)
    generator = seed_everything(config.seed)  # python, numpy, torch (dropout); the windows'
    train = RandomWindows(data.train, config.context, config.batch_size,
                          config.batches_per_epoch, generator)  # fmt: skip
    val = Blocks(data.val, config.context, VAL_WINDOWS)
    optimizer = build_optimizer(gpt, config)
    threads = config.threads or auto_threads(gpt, config.batch_size * config.context)
    return GPTParts(data, gpt, train, val, optimizer, build_schedule(optimizer, config), threads)


@dataclass
class GPTRun:
    """What a ``looplab gpt`` run produced."""

    config: GPTConfig
    data: TextData
    gpt: GPT
    history: History
    run_dir: Path
    threads: int
    samples: list[Sample] = field(default_factory=list)
    baselines: Baselines | None = None

    @property
    def val_loss(self) -> float:
        """The held-out loss after the last update, in nats per character."""
        return float(self.history.last.get("val_loss", float("nan")))

    @property
    def report(self) -> Path:
        return self.run_dir / "report.html"


def gpt_run_config(run_dir: Path, overrides: dict[str, Any]) -> GPTConfig:
    """The config to resume ``run_dir`` with: its ``config.toml``; ``overrides`` (flags given
    now) may change only what does not change the numbers (:data:`HARMLESS_FIELDS`)."""
    import tomllib

    if not (run_dir / "config.toml").is_file():
        raise RunError(
            f"cannot resume {str(run_dir)!r}: it is not a looplab gpt run directory (no "
            "config.toml); give one written by `looplab gpt` (see `looplab runs`)"
        )
    if read_status(run_dir).get("kind") != KIND:
        raise RunError(
            f"cannot resume {str(run_dir)!r} with looplab gpt: it is not a gpt run; resume it "
            "with looplab train --resume"
        )
    saved = gpt_config_from_dict(tomllib.loads((run_dir / "config.toml").read_text()))
    changed = [f"{k} ({getattr(saved, k)!r} -> {v!r})" for k, v in sorted(overrides.items())
               if v != getattr(saved, k) and k not in HARMLESS_FIELDS]  # fmt: skip
    if changed:
        raise ConfigError(
            f"cannot resume {str(run_dir)!r}: {', '.join(changed)} would change the result; "
            "drop those flags to resume, or start a new run"
        )
    return gpt_config_from_dict({**saved.to_dict(), **overrides}).validate()


def resume_point(run_dir: Path, config: GPTConfig) -> Snapshot:
    """The newest good checkpoint of an interrupted gpt run, checked against ``config``."""
    if read_status(run_dir)["status"] == "complete":
        raise RunError(
            f"run {str(run_dir)!r} is already complete; sample from it with "
            f"looplab gpt --sample {run_dir}"
        )
    payload = latest_good(run_dir / CHECKPOINT_DIR).payload
    saved = payload.get("gpt_config", {})
    changed = sorted(k for k, v in config.to_dict().items()
                     if saved.get(k) != v and k not in HARMLESS_FIELDS)  # fmt: skip
    if changed:
        raise ConfigError(
            f"the checkpoint of {str(run_dir)!r} was written with other {', '.join(changed)}; "
            "resume with the run's own config"
        )
    return payload
