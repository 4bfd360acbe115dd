"""The configuration of a ``looplab gpt`` run: one typed object, validated field by field,
saved with the run as ``config.toml``.

The defaults are nanoGPT's CPU recipe for Shakespeare (README, "I only have a macbook": 4 layers,
4 heads, 128 dims, context 64, batch 12, 2,000 iterations, lr 1e-3 decaying to 1e-4 after 100
warm-up iterations, AdamW with beta2 0.99 and weight decay 0.1, gradients clipped at 1.0, no
dropout), here on the text of ``corpus``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

from looplab.errors import ConfigError, one_of
from looplab.files import check_portable_name


@dataclass
class GPTConfig:
    """Everything a ``looplab gpt`` run needs."""

    # data
    corpus: str = "pydoc"
    val_fraction: float = 0.1
    # model
    context: int = 64
    layers: int = 4
    heads: int = 4
    dim: int = 128
    dropout: float = 0.0
    # optimization
    batch_size: int = 12
    accumulate: int = 1
    iterations: int = 2000
    eval_every: int = 100
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup: int = 100
    weight_decay: float = 0.1
    beta2: float = 0.99
    clip_norm: float = 1.0
    seed: int = 0
    threads: int = 0
    # what the run keeps
    samples_every: int = 5
    sample_length: int = 200
    checkpoint_steps: int = 0
    keep_checkpoints: int = 3
    out: str = "runs"
    name: str | None = None

    @property
    def epochs(self) -> int:
        """Evaluations in the run: the loop's epochs, each ``eval_every`` updates."""
        return self.iterations // self.eval_every

    @property
    def batches_per_epoch(self) -> int:
        """Batches the loop sees per epoch: ``accumulate`` per update."""
        return self.eval_every * self.accumulate

    def validate(self) -> GPTConfig:
        """Check every field; raise :class:`ConfigError` naming the first bad one."""
        for name in ("context", "layers", "heads", "dim", "batch_size", "accumulate",
                     "iterations", "eval_every", "sample_length", "keep_checkpoints"):  # fmt: skip
            value = getattr(self, name)
            if not _whole(value) or value < 1:
                raise ConfigError(f"{name} must be a positive whole number, got {value!r}")
        for name in ("warmup", "seed", "threads", "samples_every", "checkpoint_steps"):
            value = getattr(self, name)
            if not _whole(value) or value < 0:
                raise ConfigError(f"{name} must be a whole number >= 0, got {value!r}")
        if self.dim % self.heads:
            raise ConfigError(
                f"dim {self.dim} does not split into {self.heads} heads; choose a dim that is a "
                f"multiple of heads (e.g. --dim {self.heads * max(1, self.dim // self.heads)})"
            )
        if self.iterations % self.eval_every:
            raise ConfigError(
                f"iterations ({self.iterations}) must be a multiple of eval_every "
                f"({self.eval_every}): the run evaluates every eval_every iterations"
            )
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"val_fraction must be in (0, 1), got {self.val_fraction!r}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not 0 < self.lr < float("inf"):
            raise ConfigError(f"lr must be a positive number, got {self.lr!r}")
        if not 0 <= self.min_lr <= self.lr:
            raise ConfigError(f"min_lr must be in [0, lr], got {self.min_lr!r} (lr {self.lr!r})")
        if self.warmup >= self.iterations:
            raise ConfigError(
                f"warmup ({self.warmup}) must be shorter than the run ({self.iterations} "
                "iterations); lower --warmup"
            )
        if not 0 <= self.weight_decay < float("inf"):
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if not 0 <= self.beta2 < 1:
            raise ConfigError(f"beta2 must be in [0, 1), got {self.beta2!r}")
        if not 0 <= self.clip_norm < float("inf"):
            raise ConfigError(f"clip_norm must be >= 0 (0: no clipping), got {self.clip_norm!r}")
        if self.name is not None:
            check_portable_name(self.name)
        return self

    def to_dict(self) -> dict[str, Any]:
        """All fields as TOML values (None fields are left out)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# One line of help per field: the CLI's --help reads it from here.
GPT_HELP: dict[str, str] = {
    "corpus": "text to learn: pydoc (CPython's help text, on every machine) or a UTF-8 file path",
    "val_fraction": "the end of the text held out for validation",
    "context": "characters the model reads at once (nanoGPT's block_size)",
    "layers": "transformer blocks",
    "heads": "attention heads per block (dim must be a multiple)",
    "dim": "width of each position's vector (n_embd)",
    "dropout": "dropout probability in attention and after each block's parts",
    "batch_size": "windows per batch",
    "accumulate": "batches whose gradients are averaged into one update",
    "iterations": "optimizer updates in the run",
    "eval_every": "updates per epoch: the run evaluates, checkpoints and logs after each",
    "lr": "peak learning rate (after warm-up)",
    "min_lr": "learning rate at the end of the cosine decay",
    "warmup": "updates of linear warm-up",
    "weight_decay": "AdamW's decoupled weight decay, on matrices and embeddings only",
    "beta2": "AdamW's second-moment decay",
    "clip_norm": "clip the gradient's global norm to this (0: no clipping)",
    "seed": "seed of the initial weights, the windows and the samples",
    "threads": "torch CPU threads (0: chosen for the model and the machine's load)",
    "samples_every": "epochs between the report's samples (0: first and last only)",
    "sample_length": "characters per sample in the report",
    "checkpoint_steps": "updates between extra checkpoints (one is written every epoch)",
    "keep_checkpoints": "how many checkpoints to keep",
    "out": "directory the run directory is created in",
    "name": "name of the run directory",
}

# Fields that change how a run is kept or shown, never the numbers it computes: a resume may
# change them.
HARMLESS_FIELDS = frozenset({"samples_every", "sample_length", "checkpoint_steps",
                             "keep_checkpoints", "out", "name"})  # fmt: skip


def gpt_field_names() -> list[str]:
    return [f.name for f in fields(GPTConfig)]


def gpt_config_from_dict(values: dict[str, Any]) -> GPTConfig:
    """A GPTConfig from TOML or flag values: unknown names and wrong types are ConfigErrors."""
    kinds = {f.name: str(f.type) for f in fields(GPTConfig)}
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name not in kinds:
            raise ConfigError(f"unknown gpt config field {one_of(name, list(kinds))}")
        kind = kinds[name]
        if kind == "float" and _whole(value):
            value = float(value)
        if not _matches(kind, value):
            raise ConfigError(f"{name} must be {_describe(kind)}, got {value!r}")
        out[name] = value
    return GPTConfig(**out)


def _matches(kind: str, value: object) -> bool:
    """Whether a value has a field's type (``int``, ``float``, ``str`` or ``str | None``)."""
    if kind == "int":
        return _whole(value)
    if kind == "float":
        return isinstance(value, float)
    return isinstance(value, str) or (kind == "str | None" and value is None)


def _describe(kind: str) -> str:
    return {"int": "a whole number", "float": "a number"}.get(kind, "text")
