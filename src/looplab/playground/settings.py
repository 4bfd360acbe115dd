"""Everything a playground run is, as one typed, validated record: the page sends JSON, this
turns it into :class:`Settings` or a one-line message; nothing the page sends is ever run.

The page keeps the same fields in its URL (``#dataset=circle&hidden=4,2&...``), so a copied
link is the whole run, seed included. The limits below bound the work one run can ask for.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from looplab.config import ACTIVATIONS, INITS, OPTIMIZERS, SCHEDULES
from looplab.errors import ConfigError

MAX_POINTS = 2000  # points of a dataset (generated or uploaded)
MAX_LAYERS = 6  # hidden layers, as TensorFlow Playground
MAX_WIDTH = 64  # neurons in a hidden layer (TensorFlow Playground: 8)
MAX_EPOCHS = 10_000
MAX_CLASSES = 6  # of an uploaded CSV; blobs has 2..5

Problem = Literal["classification", "regression"]
Feature = Literal["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)", "cos(x1)", "cos(x2)"]
FEATURES: tuple[Feature, ...] = (
    "x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)", "cos(x1)", "cos(x2)",
)  # fmt: skip
DatasetName = Literal[
    "circle", "xor", "gauss", "spiral", "plane", "multigauss",
    "moons", "circles", "xor_jitter", "spiral3", "blobs", "upload",
]  # fmt: skip
Width = Annotated[int, Field(ge=1, le=MAX_WIDTH)]
UPLOAD_ID = re.compile(r"^[0-9a-f]{16}$")


class Settings(BaseModel):
    """One playground run. Defaults are TensorFlow Playground's (circle, x1 and x2, 4-2 tanh,
    batch 10, learning rate 0.03, plain SGD), so the page opens on the run its users know."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # data
    problem: Problem = "classification"
    dataset: DatasetName = "circle"
    upload: str = ""  # the uploaded CSV's id (its content hash) when dataset is "upload"
    classes: int = Field(3, ge=2, le=5)  # blobs only
    n: int = Field(500, ge=20, le=MAX_POINTS)
    noise: float = Field(0.0, ge=0.0, le=0.5)
    train_percent: int = Field(50, ge=10, le=90)
    features: tuple[Feature, ...] = ("x1", "x2")
    # model
    hidden: tuple[Width, ...] = Field((4, 2), max_length=MAX_LAYERS)
    activation: str = "tanh"
    init: str = "default"
    init_scale: float = Field(1.0, ge=0.0, le=10.0)
    dropout: float = Field(0.0, ge=0.0, le=0.9)
    norm: Literal["none", "batch", "layer"] = "none"
    residual: bool = False
    # loss and optimization
    regularization: Literal["none", "L1", "L2"] = "none"
    reg_rate: float = Field(0.0, ge=0.0, le=10.0)
    optimizer: str = "sgd"
    lr: float = Field(0.03, gt=0.0, le=10.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    weight_decay: float = Field(0.0, ge=0.0, le=1.0)
    schedule: str = "constant"
    warmup: int = Field(0, ge=0, le=MAX_EPOCHS)
    batch_size: int = Field(10, ge=1, le=MAX_POINTS)
    epochs: int = Field(500, ge=1, le=MAX_EPOCHS)
    seed: int = Field(0, ge=0, le=2**31 - 1)

    @field_validator("activation")
    @classmethod
    def _activation(cls, v: str) -> str:
        return _one_of(v, ACTIVATIONS)

    @field_validator("init")
    @classmethod
    def _init(cls, v: str) -> str:
        return _one_of(v, INITS)

    @field_validator("optimizer")
    @classmethod
    def _optimizer(cls, v: str) -> str:
        return _one_of(v, OPTIMIZERS)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str) -> str:
        return _one_of(v, SCHEDULES)

    @field_validator("features")
    @classmethod
    def _features(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("choose at least one input feature")
        if len(set(v)) != len(v):
            raise ValueError("each input feature at most once")
        return tuple(f for f in FEATURES if f in v)  # one order, whatever order the page sent

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        from looplab.playground.catalogue import DATASETS

        info = DATASETS[self.dataset]
        if info.problem is not None and info.problem != self.problem:
            others = [k for k, d in DATASETS.items() if d.problem in (self.problem, None)]
            raise ValueError(
                f"dataset {self.dataset} is for {info.problem}; for {self.problem} choose one "
                f"of: {', '.join(others)}"
            )
        if self.dataset == "upload" and not UPLOAD_ID.match(self.upload):
            raise ValueError("dataset upload needs the id of an uploaded CSV: upload a file first")
        if self.norm == "batch" and self.hidden:
            train_rows = train_size(self.n, self.train_percent)
            batch = min(self.batch_size, train_rows)
            if batch < 2 or train_rows % batch == 1:
                raise ValueError(
                    f"batch norm needs every batch to have 2 or more rows, but {train_rows} "
                    f"training rows in batches of {self.batch_size} leave a batch of 1: choose "
                    "another batch size, or layer norm"
                )
        if self.warmup and self.schedule not in ("cosine", "warmup_cosine", "one_cycle"):
            raise ValueError(
                f"schedule {self.schedule} has no warm-up: set warmup to 0, or choose "
                "cosine, warmup_cosine or one_cycle"
            )
        if self.warmup >= self.epochs:
            raise ValueError(
                f"warmup ({self.warmup} epochs) must be shorter than the run ({self.epochs} "
                "epochs): lower warmup or raise epochs"
            )
        return self

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps in an epoch (the last batch may be short)."""
        rows = train_size(self.n, self.train_percent)
        return -(-rows // min(self.batch_size, rows))


def train_size(n: int, train_percent: int) -> int:
    """Training rows of ``n`` at ``train_percent`` (at least one row on each side)."""
    return max(1, min(n - 1, round(n * train_percent / 100)))


def _one_of(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{value!r} is not one of: {', '.join(allowed)}")
    return value


def parse_settings(raw: object) -> Settings:
    """``raw`` (the page's JSON) as :class:`Settings`, or a :class:`SettingsError` whose message
    names each bad field, what was sent and what is allowed, on one line."""
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """pydantic's errors as one line: ``hidden.2: must be <= 64 (got 100); lr: ...``."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        message = message.replace("Input should be", "must be")
        if err["type"] == "extra_forbidden":
            message = "is not a playground setting"
        got = err.get("input")
        shown = f" (got {got!r})" if err["type"] != "extra_forbidden" and _short(got) else ""
        parts.append(f"{where}: {message}{shown}" if where else message)
    return "; ".join(parts)


def _short(value: object) -> bool:
    return isinstance(value, str | int | float | bool) and len(repr(value)) <= 40


class SettingsError(ConfigError):
    """Settings the page sent that cannot be a run; the message is shown as it is."""
