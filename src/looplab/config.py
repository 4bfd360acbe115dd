"""The one typed configuration object of a run.

A :class:`Config` holds everything a run needs. It comes from defaults, then a TOML file, then
command-line flags (each overriding the one before), is validated field by field with messages
that name the field and its allowed values, and is saved whole with the run as ``config.toml``.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from looplab.errors import ConfigError, one_of
from looplab.files import check_portable_name, portable_name
from looplab.task import Task

MODELS = ("mlp", "linear", "cnn")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "leaky_relu", "identity")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
OPTIMIZER_IMPLS = ("torch", "scratch")
ENGINES = ("autograd", "manual")
SCHEDULES = ("constant", "step", "exponential", "cosine", "warmup_cosine", "one_cycle", "plateau")
INITS = (
    "default",
    "zeros",
    "constant",
    "normal",
    "uniform",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
)
NORMS = ("none", "batch", "layer")
IMPUTE = ("drop", "mean")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16", "fp16")
TASKS = ("auto", "regression", "binary", "multiclass")
# The spellings ``--sep`` accepts, and the separator each means (" ": runs of spaces and tabs).
SEPARATORS: dict[str, str] = {
    ",": ",",
    "comma": ",",
    ";": ";",
    "semicolon": ";",
    "tab": "\t",
    "\t": "\t",
    "\\t": "\t",
    "|": "|",
    "pipe": "|",
    "space": " ",
    " ": " ",
}
ON_NAN = ("stop", "rollback")

FLOAT32_MAX = 3.4028234663852886e38  # data, weights and optimizer state are float32
SEED_MAX = 2**32 - 1  # numpy's and scikit-learn's seeds are unsigned 32-bit
MAX_THREADS = 1024
MAX_EPOCHS = 1_000_000  # a bound for typos (1e23 epochs would never end), not for real runs
NAME_MAX = 255  # bytes in one file name (ext4, APFS, NTFS...)
PATH_MAX = 4000  # bytes in a whole path, a little under Linux's 4096
# float fields, checked finite and within float32 before anything else looks at them
FLOAT_FIELDS = ("noise", "val_fraction", "test_fraction", "dropout", "init_scale", "lr",
                "momentum", "weight_decay")  # fmt: skip


@dataclass
class Config:
    """Everything a training run needs; the defaults are the main job (an MLP on ``moons``)."""

    # data
    dataset: str = "moons"
    n: int | None = None  # rows for synthetic datasets (None: the dataset's default)
    noise: float | None = None  # noise for synthetic datasets (None: the dataset's default)
    target: str | None = None  # target column of a csv:PATH dataset
    drop: list[str] = field(default_factory=list)  # CSV columns to leave out
    impute: str = "drop"  # rows with missing values: drop them, or fill with the train mean
    task: str = "auto"  # a CSV target's task; auto: strings and few whole numbers are classes
    sep: str | None = None  # a CSV file's separator (None: detected from the file)
    data_dir: str | None = None  # folder of a local copy of mnist (None: download and cache)
    val_fraction: float = 0.2
    test_fraction: float = 0.0
    standardize: bool = True
    standardize_target: bool = True  # regression: learn (y - mean) / std, report in y's units
    # model
    model: str = "mlp"
    hidden: list[int] = field(default_factory=lambda: [16, 16])
    activation: str = "relu"
    dropout: float = 0.0
    augment_shift: int = 0  # images: random shifts of up to this many pixels, anew each epoch
    augment_rotate: float = 0.0  # images: random rotations of up to this many degrees
    label_smoothing: float = 0.0  # classification: the share of each label spread over classes
    mixup: float = 0.0  # multiclass: alpha of mixup's Beta(alpha, alpha); 0: off
    ema_decay: float = 0.0  # keep an exponential moving average of the weights; 0: off
    swa_start: int = 0  # stochastic weight averaging from this epoch on; 0: off
    norm: str = "none"
    residual: bool = False
    init: str = "default"
    init_scale: float = 1.0  # sigma of 'normal', value of 'constant', bound of 'uniform'
    # optimization
    optimizer: str = "adam"
    impl: str = "torch"  # torch.optim (manual engine: its fused numpy twin), or from scratch
    engine: str = "autograd"  # autograd, or the hand-written forward/backward
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup: int = 0
    epochs: int = 100
    batch_size: int | str = 32  # an integer, or "full" for full-batch gradient descent
    drop_last: bool = False
    patience: int = 0  # early stopping on validation loss; 0 turns it off
    seed: int = 0
    device: str = "auto"
    threads: int = 0  # torch CPU threads while training; 0: chosen for the model (run/threads.py)
    # scale and hardware (docs/scaling-out.md)
    nproc: int = 1  # data-parallel processes (torchrun/DDP); batch_size is the global batch
    precision: str = "fp32"  # bf16: autocast (CPU, CUDA); fp16: autocast + gradient scaler (CUDA)
    compile: bool = False  # torch.compile the model
    accumulate: int = 1  # micro-batches of batch_size / accumulate per optimizer step
    clip_norm: float | None = None  # rescale the gradient to this total L2 norm when above it
    sync_bn: bool = False  # batch norm statistics over every process (SyncBatchNorm, CUDA only)
    # diagnostics and safety
    monitor: bool = False
    tensorboard: bool = False
    checkpoint_every: int = 0  # epochs between checkpoints; 0: only at the end
    checkpoint_steps: int = 0  # optimizer steps between checkpoints; 0: off
    keep_checkpoints: int = 3
    on_nan: str = "stop"
    # output
    out: str = "runs"
    name: str | None = None

    def validate(self) -> Config:
        """Check every field; raise :class:`ConfigError` naming the first bad one. Whether the
        dataset exists is the data's question (``looplab.run.build.checked`` asks both)."""
        _choice("model", self.model, MODELS)
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("impl", self.impl, OPTIMIZER_IMPLS)
        _choice("engine", self.engine, ENGINES)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("init", self.init, INITS)
        _choice("norm", self.norm, NORMS)
        _choice("impute", self.impute, IMPUTE)
        _choice("task", self.task, TASKS)
        if self.sep is not None and self.sep not in SEPARATORS:
            raise ConfigError(
                f"unknown sep {self.sep!r}; choose one of: , ; tab space | "
                "(or leave it out to detect the separator)"
            )
        _choice("device", self.device, DEVICES)
        _choice("on_nan", self.on_nan, ON_NAN)
        _choice("precision", self.precision, PRECISIONS)
        _positive_int("nproc", self.nproc, hint="processes on this machine, e.g. --nproc 2")
        _positive_int("accumulate", self.accumulate, hint="micro-batches per step, e.g. 4")
        if self.clip_norm is not None:
            _positive_float("clip_norm", self.clip_norm)
        for name in FLOAT_FIELDS:
            _in_float32(name, getattr(self, name))
        if not isinstance(self.seed, int) or not 0 <= self.seed <= SEED_MAX:
            raise ConfigError(
                f"seed must be a whole number from 0 to {SEED_MAX}, got {self.seed!r}"
            )
        if self.n is not None:
            _positive_int("n", self.n)
        if self.noise is not None and not self.noise >= 0:
            raise ConfigError(f"noise must be >= 0, got {self.noise!r}")
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ConfigError(f"{name} must be in [0, 1), got {value!r}")
        if self.val_fraction + self.test_fraction >= 1:
            raise ConfigError("val_fraction + test_fraction must leave some rows for training")
        if self.model == "mlp":
            for width in self.hidden:
                _positive_int(
                    "hidden", width, hint="e.g. --hidden 16,16; --hidden none is a linear model"
                )
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not isinstance(self.augment_shift, int) or not 0 <= self.augment_shift <= 8:
            raise ConfigError(
                f"augment_shift must be a whole number of pixels from 0 to 8, got "
                f"{self.augment_shift!r} (1 or 2 moves a 28x28 digit enough)"
            )
        for name in ("label_smoothing", "ema_decay"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ConfigError(f"{name} must be in [0, 1), got {value!r}")
        if not 0 <= self.mixup <= 10:
            raise ConfigError(
                f"mixup must be from 0 (off) to 10, got {self.mixup!r} (it is the alpha of "
                "Beta(alpha, alpha); 0.2 to 0.4 is usual)"
            )
        if self.swa_start > self.epochs:
            raise ConfigError(
                f"swa_start {self.swa_start} is after the last epoch ({self.epochs}): nothing "
                f"would be averaged; use --swa-start {max(1, self.epochs * 3 // 4)} or so"
            )
        if self.ema_decay > 0 and self.swa_start > 0:
            raise ConfigError("ema_decay and swa_start are two ways to average the weights: "
                              "choose one")  # fmt: skip
        if not 0 <= self.augment_rotate <= 45:
            raise ConfigError(
                f"augment_rotate must be from 0 to 45 degrees, got {self.augment_rotate!r} "
                "(small rotations keep a 6 a 6; about 10 is usual for digits)"
            )
        _positive_float("lr", self.lr)
        if not self.weight_decay >= 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if self.optimizer == "nesterov" and self.momentum == 0:
            raise ConfigError(
                "nesterov needs a momentum above 0, got 0.0; use --momentum 0.9, "
                "or --optimizer sgd for no momentum"
            )
        if self.init_scale < 0 and self.init != "constant":
            raise ConfigError(
                f"init_scale must be >= 0 (the std of 'normal' init, the bound of 'uniform'), "
                f"got {self.init_scale!r}; only --init constant takes a negative value"
            )
        _positive_int("epochs", self.epochs)
        if self.epochs > MAX_EPOCHS:
            raise ConfigError(f"epochs must be at most {MAX_EPOCHS:,}, got {self.epochs:,}")
        if self.batch_size != "full":
            _positive_int("batch_size", self.batch_size, hint="or 'full' for full batch")
        for name in ("patience", "warmup", "checkpoint_every", "checkpoint_steps", "threads",
                     "swa_start"):  # fmt: skip
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name} must be a whole number >= 0, got {value!r}")
        _positive_int("keep_checkpoints", self.keep_checkpoints)
        if self.threads > MAX_THREADS:
            raise ConfigError(
                f"threads must be at most {MAX_THREADS}, got {self.threads}; "
                "0 lets looplab choose (small models often run fastest on 1)"
            )
        check_out(self.out)
        self._validate_scale()
        if self.name is not None:
            check_name(self.name)
        return self

    def _validate_scale(self) -> None:
        """Data parallelism, precision and accumulation: the checks that need no hardware."""
        parts = self.nproc * self.accumulate  # the global batch is split into this many
        if isinstance(self.batch_size, int) and self.batch_size % parts:
            split = " x ".join(
                f"{k} {what}"
                for k, what in ((self.nproc, "processes"), (self.accumulate, "micro-batches"))
                if k > 1
            )
            fit = (self.batch_size // parts + 1) * parts
            raise ConfigError(
                f"batch_size {self.batch_size} cannot be split evenly into {split}; use a "
                f"multiple of {parts}, e.g. --batch-size {fit}"
            )
        if self.engine == "manual":
            asked = [f for f, on in (("--nproc", self.nproc > 1), ("--accumulate",
                     self.accumulate > 1), ("--precision", self.precision != "fp32"),
                     ("--compile", self.compile)) if on]  # fmt: skip
            if asked:
                raise ConfigError(
                    f"engine 'manual' runs in one process in float32: drop {', '.join(asked)}, "
                    "or use --engine autograd"
                )
        if self.nproc > 1 and self.on_nan == "rollback":
            raise ConfigError(
                "on_nan 'rollback' is not available data-parallel (--nproc > 1); use --on-nan "
                "stop and resume with a lower --lr"
            )
        if self.precision == "fp16" and self.clip_norm is not None:
            raise ConfigError(
                "clip_norm does not combine with precision 'fp16' (its gradients are scaled "
                "until the step); use --precision bf16, or drop --clip-norm"
            )
        if self.sync_bn and self.norm != "batch":
            raise ConfigError("sync_bn synchronizes batch norm: add --norm batch, or drop it")

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain TOML-friendly values (None fields are left out)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def save(self, path: Path) -> None:
        """Write the whole config as TOML."""
        path.write_text(tomli_w.dumps(self.to_dict()))

    def replace(self, **changes: object) -> Config:
        """A copy with some fields changed (values are coerced like flags)."""
        return from_dict({**self.to_dict(), **changes})


# One line of help per field: the CLI's --help and the docs read it from here.
HELP: dict[str, str] = {
    "dataset": "built-in dataset name (see `looplab datasets`) or csv:PATH",
    "n": "rows to generate for a synthetic dataset",
    "noise": "noise of a synthetic dataset",
    "target": "target column of a csv:PATH dataset",
    "drop": "CSV columns to leave out, comma-separated",
    "impute": "rows with missing values: " + " | ".join(IMPUTE),
    "task": "task of a CSV target: " + " | ".join(TASKS),
    "sep": "separator of a CSV file: , ; tab space |",
    "data_dir": "folder holding the four MNIST IDX files (else downloaded once into the cache)",
    "val_fraction": "fraction of rows for validation",
    "test_fraction": "fraction of rows for the test split",
    "standardize": "standardize features with the training split's mean and std",
    "standardize_target": "regression: standardize the target with the training split's mean "
    "and std (the loss is then MSE on the standardized target; predictions and MAE are in the "
    "target's units)",
    "model": " | ".join(MODELS) + " (cnn: LeNet-sized, for image datasets)",
    "hidden": "hidden layer widths, e.g. 16,16",
    "activation": " | ".join(ACTIVATIONS),
    "dropout": "dropout probability after each hidden activation",
    "augment_shift": "images: shift each training image by up to this many pixels in x and y, "
    "drawn anew each epoch (0: off)",
    "augment_rotate": "images: rotate each training image by up to this many degrees either "
    "way, drawn anew each epoch (0: off)",
    "label_smoothing": "classification: train towards 1 - e + e/K for the true class and e/K "
    "for the others, as cross_entropy(label_smoothing=e) (0: off)",
    "mixup": "multiclass: train on mixes l*x_i + (1-l)*x_j with labels mixed alike, "
    "l ~ Beta(alpha, alpha) per batch; this is alpha, e.g. 0.2 (0: off)",
    "ema_decay": "keep an exponential moving average of the weights after every step, with this "
    "decay (e.g. 0.99), and end with it (0: off)",
    "swa_start": "stochastic weight averaging: average the weights at the end of each epoch from "
    "this one on, and end with the average (0: off)",
    "norm": "normalization after each hidden layer: " + " | ".join(NORMS),
    "residual": "skip connections around hidden layers of equal width",
    "init": "weight initialization: " + " | ".join(INITS),
    "init_scale": "sigma of 'normal', value of 'constant', bound of 'uniform' init",
    "optimizer": " | ".join(OPTIMIZERS),
    "impl": "optimizer and schedule implementation: torch (torch.optim, fused; under --engine "
    "manual its fused numpy twin) | scratch (the course's readable rules)",
    "engine": "gradients by " + " | ".join(ENGINES),
    "lr": "learning rate",
    "momentum": "momentum of momentum / nesterov",
    "weight_decay": "L2 weight decay",
    "schedule": "learning-rate schedule (see `looplab schedule all`): " + " | ".join(SCHEDULES),
    "warmup": "warm-up epochs, ramped per update (cosine becomes warmup_cosine; one_cycle)",
    "epochs": "passes over the training data",
    "batch_size": "examples per step: a number, or 'full'",
    "drop_last": "drop the last short batch of each epoch",
    "patience": "early stopping after this many epochs without a better validation loss (0: off)",
    "seed": "seed of data, initial weights and shuffling",
    "device": " | ".join(DEVICES),
    "threads": "torch CPU threads while training (0: auto, one for small models, more for "
    "large ones on idle cores)",
    "nproc": "data-parallel processes on this machine (torchrun + DistributedDataParallel); "
    "batch_size is the global batch, split across them",
    "precision": "arithmetic of forward and loss: " + " | ".join(PRECISIONS) + " (bf16: autocast "
    "on CPU and CUDA; fp16: CUDA only, with a gradient scaler)",
    "compile": "compile the model with torch.compile (needs a C++ compiler on the CPU)",
    "accumulate": "micro-batches per optimizer step: batch_size is split into this many, their "
    "gradients summed before one step",
    "clip_norm": "clip the gradient's total L2 norm to this value (none: off)",
    "sync_bn": "batch norm statistics over every process (SyncBatchNorm; CUDA only)",
    "monitor": "record per-layer statistics (activations, gradients, weights)",
    "tensorboard": "write TensorBoard logs into the run directory",
    "checkpoint_every": "epochs between checkpoints (0: only at the end)",
    "checkpoint_steps": "optimizer steps between checkpoints (0: off)",
    "keep_checkpoints": "how many checkpoints to keep",
    "on_nan": "when the loss becomes NaN: " + " | ".join(ON_NAN),
    "out": "directory the run directory is created in",
    "name": "name of the run directory",
}


def _csv(c: Config, task: str | None) -> bool:
    return c.dataset.startswith("csv:")


# When a field matters to a run, given the config and the data's task (None: not known yet).
# A field not listed here always matters. The report's configuration shows only the fields that
# matter (config.toml keeps every field, so a run is reproduced from it exactly).
APPLIES: dict[str, Callable[[Config, str | None], bool]] = {
    "n": lambda c, task: not _csv(c, task),
    "noise": lambda c, task: not _csv(c, task),
    "target": _csv,
    "sep": _csv,
    "data_dir": lambda c, task: c.dataset == "mnist",
    "drop": _csv,
    "impute": _csv,
    "task": _csv,
    "standardize_target": lambda c, task: task in (None, "regression"),
    "hidden": lambda c, task: c.model == "mlp",
    "activation": lambda c, task: c.model == "cnn" or (c.model == "mlp" and bool(c.hidden)),
    "dropout": lambda c, task: c.model == "cnn" or (c.model == "mlp" and bool(c.hidden)),
    "norm": lambda c, task: c.model == "mlp" and bool(c.hidden),
    "residual": lambda c, task: c.model == "mlp" and bool(c.hidden),
    "init_scale": lambda c, task: c.init in ("normal", "constant", "uniform"),
    "augment_shift": lambda c, task: c.augment_shift > 0,  # 0: off
    "augment_rotate": lambda c, task: c.augment_rotate > 0,  # 0: off
    "label_smoothing": lambda c, task: c.label_smoothing > 0,  # 0: off
    "mixup": lambda c, task: c.mixup > 0,  # 0: off
    "ema_decay": lambda c, task: c.ema_decay > 0,  # 0: off
    "swa_start": lambda c, task: c.swa_start > 0,  # 0: off
    "momentum": lambda c, task: c.optimizer in ("momentum", "nesterov"),
    "warmup": lambda c, task: c.schedule in ("cosine", "warmup_cosine", "one_cycle"),
    "drop_last": lambda c, task: c.batch_size != "full",
    "threads": lambda c, task: c.threads > 0,  # 0: chosen by the run
    "nproc": lambda c, task: c.nproc > 1,
    "precision": lambda c, task: c.precision != "fp32",
    "compile": lambda c, task: c.compile,
    "accumulate": lambda c, task: c.accumulate > 1,
    "sync_bn": lambda c, task: c.sync_bn,
    "checkpoint_every": lambda c, task: c.checkpoint_every > 0,  # 0: only at the end
    "checkpoint_steps": lambda c, task: c.checkpoint_steps > 0,  # 0: off
}


def applicable(config: Config, task: str | None = None) -> dict[str, Any]:
    """The fields that matter to a run of ``config`` on data of ``task`` (see :data:`APPLIES`),
    as :meth:`Config.to_dict` gives them."""
    return {
        name: value
        for name, value in config.to_dict().items()
        if name not in APPLIES or APPLIES[name](config, task)
    }


def toml_value(value: Any) -> str:
    """A value as it is written in a TOML file: ``[16, 16]``, ``"moons"``, ``true``, ``0.01``."""
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return tomli_w.dumps({"v": value}).removeprefix("v = ").strip()


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"unknown {name} {one_of(value, allowed)}")


def _positive_int(name: str, value: object, hint: str = "") -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        suffix = f" ({hint})" if hint else ""
        raise ConfigError(f"{name} must be a positive whole number, got {value!r}{suffix}")


def _in_float32(name: str, value: float | None) -> None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return  # the type checks of each field say what is wrong
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if abs(value) > FLOAT32_MAX:
        raise ConfigError(
            f"{name} {value:g} is beyond float32 (the largest is {FLOAT32_MAX:.4g}), in which "
            "looplab computes; use a smaller value"
        )


def check_name(name: str) -> None:
    """A run name is one portable directory name inside ``--out``: no separators, no ``..``,
    short enough for the file system."""
    if name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ConfigError(
            f"name {_short(name)!r} is not a portable directory name: a run's name is one "
            "directory inside --out (no '/', '\\', '.' or '..'); choose the place with --out DIR, "
            f"e.g. --name {portable_name(name)}"
        )
    size = len(name.encode("utf-8", "surrogateescape"))
    if size > NAME_MAX:
        raise ConfigError(
            f"name is {size} bytes long; a directory name holds at most {NAME_MAX} bytes, so "
            f"use a shorter --name (it starts {_short(name, 40)!r})"
        )
    check_portable_name(name)  # and one that every system accepts


def check_out(out: str) -> None:
    """An output directory the file system can hold: no NUL, names and path not too long."""
    if not isinstance(out, str):
        return
    if out == "" or "\0" in out:
        raise ConfigError(f"out must be a directory path, got {_short(out)!r}; e.g. --out runs")
    encoded = out.encode("utf-8", "surrogateescape")
    longest = max(len(part.encode("utf-8", "surrogateescape")) for part in out.split("/"))
    if len(encoded) > PATH_MAX or longest > NAME_MAX:
        what = (
            f"{len(encoded)} bytes long (at most {PATH_MAX})"
            if len(encoded) > PATH_MAX
            else f"a part of {longest} bytes (at most {NAME_MAX} per directory name)"
        )
        raise ConfigError(
            f"out is too long for the file system: {what}; use a shorter --out "
            f"(it starts {_short(out, 40)!r})"
        )


def _short(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters for a message (a path may be thousands long)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _positive_float(name: str, value: float) -> None:
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a positive number, got {value!r}")


def field_names() -> list[str]:
    """The names of every config field, in declaration order."""
    return [f.name for f in fields(Config)]


def coerce(name: str, value: Any) -> Any:
    """Turn a flag or TOML value into the field's type, or raise a ConfigError naming the field.

    Strings are parsed (``"0.1"`` -> 0.1, ``"16,16"`` -> [16, 16], ``"full"`` stays for
    batch_size) so the same function serves CLI flags, TOML files and sweeps.
    """
    types = {f.name: f.type for f in fields(Config)}
    if name not in types:
        raise ConfigError(f"unknown config field {one_of(name, field_names())}")
    kind = str(types[name])
    try:
        if name == "batch_size":
            if isinstance(value, str) and value.strip().lower() == "full":
                return "full"
            return _to_int(value)
        if kind in ("list[int]",):
            if isinstance(value, str):
                if value.strip().lower() in ("", "none") and name == "hidden":
                    return []  # no hidden layer: a linear model
                parts = value.replace(" ", "").split(",")
                if "" in parts[:-1]:  # "16,,16" or ",16": a width left out
                    raise ValueError
                return [_to_int(p) for p in parts if p != ""]
            return [_to_int(v) for v in value]
        if kind == "list[str]":
            if isinstance(value, str):
                return [p.strip() for p in value.split(",") if p.strip()]
            return [str(v) for v in value]
        is_none = value is None or (isinstance(value, str) and value.lower() == "none")
        if is_none and "None" in kind:
            return None
        if kind.startswith("int"):
            return _to_int(value)
        if kind.startswith("float"):
            if isinstance(value, bool):
                raise ValueError
            return float(value) + 0.0  # + 0.0: "-0" is zero, not a negative number
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "1", "yes", "on"):
                return True
            if text in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if kind.startswith("str"):
            if not isinstance(value, str):
                raise ValueError
            return value
    except (ValueError, TypeError):
        expected = {
            "batch_size": "a whole number or 'full'",
            "hidden": "comma-separated whole numbers, e.g. 16,16",
        }.get(name, _describe(kind))
        raise ConfigError(f"{name} must be {expected}, got {value!r}") from None
    return value


def _to_int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError
        return int(value)
    return int(str(value).strip())


def _describe(kind: str) -> str:
    if kind.startswith("int"):
        return "a whole number"
    if kind.startswith("float"):
        return "a number"
    if kind == "bool":
        return "true or false"
    if kind == "list[str]":
        return "a comma-separated list of names"
    return "text"


def from_dict(values: dict[str, Any]) -> Config:
    """Build a Config from a mapping of field names to raw values, coercing each one."""
    return Config(**{name: coerce(name, value) for name, value in values.items()})


def load_toml(path: Path) -> dict[str, Any]:
    """Read a TOML config file into a flat mapping (``[section]`` tables are flattened)."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is not TOML
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be read ({exc})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return flat


# Fields added after runs were first saved, with the value that reproduces a run saved before
# them: a run's config.toml or checkpoint without the field gets this value, not today's default.
BEFORE_FIELD: dict[str, object] = {"standardize_target": False}


def from_saved(values: dict[str, Any]) -> Config:
    """The config a run was saved with (its ``config.toml`` or a checkpoint's), read so that an
    older run keeps computing what it computed (see :data:`BEFORE_FIELD`)."""
    return from_dict({**BEFORE_FIELD, **values})


def make_config(file: Path | None = None, **flags: object) -> Config:
    """Defaults, then the TOML ``file``, then ``flags`` (None means 'not given'); validated."""
    values: dict[str, Any] = load_toml(file) if file is not None else {}
    values.update({k: v for k, v in flags.items() if v is not None})
    return from_dict(values).validate()


__all__ = [
    "ACTIVATIONS",
    "APPLIES",
    "INITS",
    "MODELS",
    "OPTIMIZERS",
    "PRECISIONS",
    "SCHEDULES",
    "Config",
    "Task",
    "applicable",
    "coerce",
    "field_names",
    "from_dict",
    "from_saved",
    "load_toml",
    "make_config",
    "toml_value",
]
