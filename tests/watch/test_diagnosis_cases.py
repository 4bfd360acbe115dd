"""The diagnoses on a labelled set of provoked runs: precision and recall per kind.

Each case is a short run that is healthy or was provoked into one problem, labelled with the
diagnoses it must get; a diagnosis it ``may`` get is one that is also true of it (a diverging
run whose ReLUs died); every other diagnosis is a false positive. The runs go through
``looplab.run.fit.fit`` with a layer monitor (unless ``monitor=False``) and the diagnoses, but
no divergence guard, so the rules are judged on runs that continue after going wrong.

``pytest -s`` prints the table. The fast set runs in the default suite; the full set (which
adds the course's full-size default runs) is marked ``slow``: ``pytest -m slow``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from torch import nn

from looplab.config import Config
from looplab.data.prepared import PreparedData, load_prepared
from looplab.data.split import Split
from looplab.experiments.regularization import overfit_config
from looplab.experiments.sine_width import sine_config, sine_data, sine_model
from looplab.loop.history import History, Note
from looplab.models.cnn import build_network
from looplab.models.init import init_model
from looplab.models.mlp import build_model
from looplab.run.build import model_spec
from looplab.run.fit import fit
from looplab.watch.diagnoses import (
    DEAD_RELU,
    DIVERGING,
    EXPLODING,
    KINDS,
    LOSS_SCALE,
    NONFINITE,
    OVERFITTING,
    PLATEAU,
    UNDERFITTING,
    UNSTABLE,
    VANISHING,
    Diagnoses,
    diagnoses_in,
)
from looplab.watch.monitors import LayerMonitor

# Pairs of diagnoses that cannot both be right about one run: "the steps are too small"
# against "the loss ran away / overshoots / units died from too large steps"; gradients that
# vanish against gradients that explode; a poor fit of the training data against memorizing it.
CONTRADICTIONS = {
    frozenset(pair)
    for pair in [
        (PLATEAU, DIVERGING),
        (PLATEAU, NONFINITE),
        (PLATEAU, EXPLODING),
        (PLATEAU, UNSTABLE),
        (PLATEAU, DEAD_RELU),
        (UNDERFITTING, DIVERGING),
        (UNDERFITTING, NONFINITE),
        (UNDERFITTING, UNSTABLE),
        (VANISHING, EXPLODING),
        (OVERFITTING, UNDERFITTING),
    ]
}


def unscaled_regression(
    n: int = 200, scale: float = 1e4, offset: float = 1e5, seed: int = 0
) -> Callable[[Config], PreparedData]:
    """Three standardized features and a target ``scale * (linear signal + noise) + offset``,
    left unscaled (built directly, whatever the data pipeline does to targets)."""

    def make(config: Config) -> PreparedData:
        g = torch.Generator().manual_seed(seed)
        X = torch.randn(n, 3, generator=g)  # (n, 3)
        signal = X @ torch.tensor([1.0, -0.5, 0.25]) + 0.3 * torch.randn(n, generator=g)
        y = scale * signal + offset  # (n,)
        cut = int(0.8 * n)
        return PreparedData(
            train=Split(X[:cut], y[:cut]), val=Split(X[cut:], y[cut:]), task="regression",
            name="unscaled", feature_names=["a", "b", "c"],
        )  # fmt: skip

    return make


def lesson_2_3(config: Config) -> PreparedData:
    return sine_data()


@dataclass(frozen=True)
class Case:
    """One labelled run: ``fields`` of its Config; the kinds it ``must`` get, ``either`` of
    which it must get at least one, and ``may`` get (anything else is a false positive);
    ``data`` and ``build`` (the model) override the config's."""

    name: str
    fields: dict[str, Any]
    must: frozenset[str] = frozenset()
    may: frozenset[str] = frozenset()
    either: frozenset[str] = frozenset()  # at least one of these (each true of the run)
    monitor: bool = True
    data: Callable[[Config], PreparedData] | None = None
    build: Callable[[Config, PreparedData], nn.Module] | None = None
    slow: bool = False
    kw: dict[str, Any] = field(default_factory=dict)  # Diagnoses options

    @property
    def healthy(self) -> bool:
        return not self.must | self.may | self.either


def case(name: str, must: Sequence[str] = (), may: Sequence[str] = (), **options: Any) -> Case:
    known = {"monitor", "data", "build", "slow", "kw", "either"}
    extra = {k: options.pop(k) for k in list(options) if k in known}
    extra["either"] = frozenset(extra.get("either", ()))
    return Case(name, options, frozenset(must), frozenset(may), **extra)


def negative_bias(config: Config, data: PreparedData) -> nn.Module:
    """A ReLU MLP whose first layer's units all but one start with a bias of -50: dead at
    birth, the layer passes almost nothing on."""
    model = build_model(model_spec(config, data), seed=0)
    with torch.no_grad():
        model.linear(1).bias[1:] = -50.0
    return model


def lesson_model(config: Config, data: PreparedData) -> nn.Module:
    return sine_model(50, 0)  # randn weights: first loss in the hundreds, then overflow


SMALL: dict[str, Any] = dict(n=300)
LESSON: dict[str, Any] = {
    k: v for k, v in sine_config(epochs=30).to_dict().items() if k != "monitor"
}
DEEP = [16] * 20
OVERFIT_SINE: dict[str, Any] = dict(dataset="sine", n=60, noise=0.5, hidden=[128, 128],
                                    batch_size="full", val_fraction=0.5, lr=0.003,
                                    epochs=200)  # fmt: skip

# fmt: off
HEALTHY = [
    case("linear", dataset="linear", n=200, epochs=30),
    case("linear, linear model, sgd", dataset="linear", model="linear", optimizer="sgd", lr=0.1,
         n=200, epochs=20),
    case("sine", dataset="sine", epochs=60, **SMALL),
    case("sine, tanh, full batch", dataset="sine", activation="tanh", batch_size="full", lr=0.03,
         epochs=150, **SMALL),
    case("moons", epochs=20, n=1000),
    case("moons, momentum", optimizer="momentum", lr=0.1, epochs=20, n=1000),
    case("moons, dropout and batch norm", dropout=0.2, norm="batch", epochs=20, n=1000),
    case("moons, no monitor", epochs=20, n=1000, monitor=False),
    case("noisy moons (0.45)", noise=0.45, n=400, epochs=40),
    case("circles", dataset="circles", epochs=40, **SMALL),
    case("xor", dataset="xor", epochs=40, **SMALL),
    case("spiral", dataset="spiral", n=600, epochs=60),
    case("blobs", dataset="blobs", epochs=15),
    case("noisy blobs (2.0), linear model", dataset="blobs", noise=2.0, model="linear", n=400,
         epochs=30),
    case("digits", dataset="digits", lr=0.003, epochs=10),
    case("mnist-5k", dataset="mnist-5k", hidden=[64], lr=0.001, batch_size=64, epochs=3),
    case("mnist-5k, cnn, augmented", dataset="mnist-5k", model="cnn", lr=0.001, batch_size=64,
         epochs=3, augment_shift=2, augment_rotate=10),
    case("iris", dataset="iris", epochs=30),
    case("iris, linear model", dataset="iris", model="linear", lr=0.05, epochs=60),
    case("wine", dataset="wine", epochs=40),
    # at lr 0.01 its validation loss turns up after 2-6 epochs on some seeds: overfitting
    case("breast_cancer", dataset="breast_cancer", lr=0.001, epochs=15),
    case("breast_cancer, linear model", dataset="breast_cancer", model="linear", epochs=20),
    case("default moons (1000 rows, 100 epochs)", slow=True),
    case("default sine (300 rows, 100 epochs)", dataset="sine", slow=True),
]

PROVOKED = [
    # a huge learning rate: the loss runs away (the divergence guard would stop these)
    case("sgd lr 50 (moons)", [DIVERGING], [DEAD_RELU], optimizer="sgd", lr=50, epochs=30,
         monitor=False, **SMALL),
    case("sgd lr 50 (moons), monitored", [DIVERGING, EXPLODING], [DEAD_RELU], optimizer="sgd",
         lr=50, epochs=30, **SMALL),
    case("sgd lr 30 (spiral)", [DIVERGING, EXPLODING], [DEAD_RELU, NONFINITE], dataset="spiral",
         optimizer="sgd", lr=30, epochs=20, **SMALL),
    case("adam lr 2 (moons)", [], [DEAD_RELU, EXPLODING], either=[DIVERGING, UNSTABLE], lr=2.0,
         epochs=20, **SMALL),
    case("sgd lr 1.5, full batch (linear)", [DIVERGING, EXPLODING], [NONFINITE],
         dataset="linear", model="linear", optimizer="sgd", lr=1.5, batch_size="full",
         epochs=12, n=100),
    case("sgd lr 50 (moons, 1000 rows, 100 epochs)", [DIVERGING], [DEAD_RELU],
         optimizer="sgd", lr=50, monitor=False, slow=True),
    # the loss overflows
    case("sgd lr 1e4 (linear)", [NONFINITE], [DIVERGING, EXPLODING], dataset="linear",
         model="linear", optimizer="sgd", lr=1e4, epochs=5, n=100),
    case("lesson 2.3: width 50, randn init", [NONFINITE, EXPLODING], [DIVERGING],
         data=lesson_2_3, build=lesson_model, **LESSON),
    # too small a learning rate: the weights barely move
    case("sgd lr 1e-9 (moons)", [PLATEAU], optimizer="sgd", lr=1e-9, epochs=30, **SMALL),
    case("sgd lr 1e-4 (moons)", [PLATEAU], optimizer="sgd", lr=1e-4, epochs=30, **SMALL),
    case("adam lr 1e-6 (spiral)", [PLATEAU], dataset="spiral", lr=1e-6, epochs=30, **SMALL),
    case("sgd lr 1e-7 (sine)", [PLATEAU], dataset="sine", optimizer="sgd", lr=1e-7, epochs=30,
         **SMALL),
    case("sgd lr 1e-6 (blobs), no monitor", [PLATEAU], dataset="blobs", optimizer="sgd",
         lr=1e-6, epochs=30, monitor=False, **SMALL),
    # on the edge: the weights move about 1% in 30 epochs and the loss creeps down: either
    # "plateau: steps too small" or "underfitting: still falling, a higher lr" is right
    case("sgd lr 1e-3 (moons)", [], either=[PLATEAU, UNDERFITTING], optimizer="sgd", lr=1e-3,
         epochs=30, **SMALL),
    # too large a learning rate: the loss overshoots and bounces (ReLUs may die of it)
    # (and the gradients spike, ReLUs die, tanh units saturate, all true of such runs)
    case("sgd lr 5 (moons)", [UNSTABLE], [DEAD_RELU, EXPLODING], optimizer="sgd", lr=5,
         epochs=30, **SMALL),
    case("sgd lr 5 (circles)", [UNSTABLE], [DEAD_RELU, EXPLODING], dataset="circles",
         optimizer="sgd", lr=5, epochs=30, **SMALL),
    case("momentum lr 1.5, tanh (moons)", [UNSTABLE], [VANISHING], optimizer="momentum", lr=1.5,
         activation="tanh", epochs=30, **SMALL),
    case("momentum lr 1.5, tanh (circles)", [UNSTABLE], [VANISHING], dataset="circles",
         optimizer="momentum", lr=1.5, activation="tanh", epochs=30, **SMALL),
    # underfitting: too little model, or too few epochs
    case("linear model (spiral)", [UNDERFITTING], dataset="spiral", model="linear", epochs=40,
         **SMALL),
    case("linear model (circles)", [UNDERFITTING], dataset="circles", model="linear",
         epochs=40, **SMALL),
    case("linear model (xor)", [UNDERFITTING], dataset="xor", model="linear", epochs=40,
         **SMALL),
    case("linear model (sine)", [UNDERFITTING], dataset="sine", model="linear", epochs=40,
         n=200),
    case("identity activation (circles)", [UNDERFITTING], dataset="circles",
         activation="identity", epochs=40, **SMALL),
    case("one tanh unit (spiral)", [UNDERFITTING], dataset="spiral", hidden=[1],
         activation="tanh", epochs=60, **SMALL),
    case("adam lr 1e-4 (spiral)", [UNDERFITTING], dataset="spiral", lr=1e-4, epochs=30,
         **SMALL),
    case("sgd lr 0.01 (circles)", [UNDERFITTING], dataset="circles", optimizer="sgd", lr=0.01,
         epochs=30, **SMALL),
    # overfitting: a large model on a few noisy points
    case("overfit moons (regularize's config, 150 epochs)", [OVERFITTING], [UNSTABLE],
         **overfit_config(epochs=150).to_dict()),
    case("overfit moons (60 rows, full batch)", [OVERFITTING], dataset="moons", n=60,
         noise=0.4, val_fraction=0.5, hidden=[64, 64], batch_size="full", epochs=120),
    case("overfit breast_cancer (60 epochs)", [OVERFITTING], dataset="breast_cancer",
         epochs=60),
    case("overfit sine (30 rows, 128 wide)", [OVERFITTING], **OVERFIT_SINE),
    case("train/val gap: digits on 10% of the rows", [OVERFITTING], dataset="digits",
         val_fraction=0.9, hidden=[32], epochs=40),
    case("train/val gap: digits on 10%, 64 wide", [OVERFITTING], dataset="digits",
         val_fraction=0.9, hidden=[64], epochs=40),
    # gradients through depth
    case("20 sigmoid layers", [VANISHING], dataset="moons", hidden=DEEP, activation="sigmoid",
         epochs=3, n=200),
    case("20 tanh layers, small init", [VANISHING], dataset="moons", hidden=DEEP,
         activation="tanh", init="normal", init_scale=0.05, epochs=3, n=200),
    case("20 ReLU layers, small init", [VANISHING], [DEAD_RELU], dataset="moons", hidden=DEEP,
         init="normal", init_scale=0.05, epochs=3, n=200),
    case("exploding: sgd lr 1.5 (linear), full batch", [EXPLODING, DIVERGING],
         dataset="linear", model="linear", optimizer="sgd", lr=1.5, batch_size="full",
         epochs=12, n=64),
    # dead ReLUs
    case("bias -50 on 15 of 16 first-layer units", [DEAD_RELU], dataset="moons",
         build=negative_bias, epochs=10, **SMALL),
    # an unscaled regression target
    case("target * 1e4 + 1e5, adam", [LOSS_SCALE], data=unscaled_regression(), epochs=30),
    case("target * 1e4 + 1e5, adam, no monitor", [LOSS_SCALE], data=unscaled_regression(),
         epochs=30, monitor=False),
    case("longley-like: 16 rows, target ~65000", [LOSS_SCALE],
         data=unscaled_regression(16, 3500, 65000), batch_size="full", epochs=60),
    # sgd: the first steps either run away or kill the ReLUs, leaving the outputs near 0
    case("target * 1e4 + 1e5, sgd", [], [NONFINITE, EXPLODING, DEAD_RELU],
         either=[DIVERGING, LOSS_SCALE], data=unscaled_regression(), optimizer="sgd", lr=0.01,
         epochs=10),
]
# fmt: on
CASES = HEALTHY + PROVOKED
# The default suite runs these: a healthy run of every dataset and each kind provoked at least
# once (about a third of the full set's time); ``pytest -m slow`` runs them all.
FAST = {
    "linear", "sine", "moons", "circles", "xor", "spiral", "blobs", "digits", "iris", "wine",
    "breast_cancer", "moons, no monitor", "mnist-5k",
    "sgd lr 50 (moons)", "sgd lr 50 (moons), monitored", "sgd lr 1e4 (linear)",
    "lesson 2.3: width 50, randn init", "sgd lr 1e-9 (moons)", "sgd lr 1e-6 (blobs), no monitor",
    "sgd lr 5 (moons)", "momentum lr 1.5, tanh (circles)", "linear model (spiral)",
    "linear model (sine)", "adam lr 1e-4 (spiral)",
    "overfit moons (60 rows, full batch)", "train/val gap: digits on 10% of the rows",
    "20 sigmoid layers", "20 ReLU layers, small init", "exploding: sgd lr 1.5 (linear), full batch",
    "bias -50 on 15 of 16 first-layer units", "target * 1e4 + 1e5, adam",
    "longley-like: 16 rows, target ~65000", "target * 1e4 + 1e5, sgd",
}  # fmt: skip


@dataclass
class Outcome:
    case: Case
    notes: list[Note]
    seconds: float  # wall clock
    cpu: float  # this process's CPU time: what the run cost, on a shared machine too

    @property
    def kinds(self) -> set[str]:
        return {n.kind for n in self.notes}

    @property
    def false(self) -> set[str]:
        return self.kinds - self.case.must - self.case.may - self.case.either

    @property
    def missed(self) -> set[str]:
        """Required kinds not said (all of ``either`` when none of them was said)."""
        either = self.case.either if not self.case.either & self.kinds else frozenset()
        return set((self.case.must | either) - self.kinds)

    def required(self, kind: str) -> bool:
        """Was ``kind`` required here (a must, or one of ``either`` that was said or missed)?"""
        return kind in self.case.must or (
            kind in self.case.either and (kind in self.kinds or kind in self.missed)
        )


def warm_up() -> None:
    """torch.optim imports its compiler machinery on the first optimizer built (seconds on a
    busy machine): pay it before the cases are timed."""
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def run_case(c: Case) -> Outcome:
    config = Config(**{"device": "cpu", **c.fields}).validate()
    started, cpu = time.perf_counter(), time.process_time()
    data = c.data(config) if c.data else load_prepared(config)
    if c.build is not None:
        model = c.build(config, data)
    else:
        model = build_network(model_spec(config, data), seed=config.seed)
        init_model(model, config.init, config.init_scale, seed=config.seed)
    monitor = LayerMonitor() if c.monitor else None
    callbacks = [monitor, Diagnoses(monitor, **c.kw)] if monitor else [Diagnoses(**c.kw)]
    history: History = fit(model, data, config, callbacks)
    return Outcome(
        c, diagnoses_in(history), time.perf_counter() - started, time.process_time() - cpu
    )


def table(outcomes: list[Outcome]) -> str:
    """Precision and recall per kind: a diagnosis is a true positive where the case must get
    it, a false positive where it is neither a must nor a may; recall counts the musts."""
    lines = [f"{'diagnosis':<20} {'TP':>3} {'FP':>3} {'FN':>3} {'may':>3}  precision  recall"]
    for kind in KINDS:
        tp = sum(kind in o.kinds and o.required(kind) for o in outcomes)
        fp = sum(kind in o.false for o in outcomes)
        fn = sum(kind in o.missed for o in outcomes)
        may = sum(kind in o.kinds and not o.required(kind) and kind not in o.false
                  for o in outcomes)  # fmt: skip
        precision = f"{tp / (tp + fp):.2f}" if tp + fp else "-"
        recall = f"{tp / (tp + fn):.2f}" if tp + fn else "-"
        lines.append(f"{kind:<20} {tp:>3} {fp:>3} {fn:>3} {may:>3}  {precision:>9}  {recall:>6}")
    healthy = [o for o in outcomes if o.case.healthy]
    seconds, cpu = sum(o.seconds for o in outcomes), sum(o.cpu for o in outcomes)
    lines.append(
        f"{len(outcomes)} runs ({len(healthy)} healthy, {len(outcomes) - len(healthy)} "
        f"provoked) in {seconds:.1f} s ({cpu:.1f} s CPU); slowest (CPU): "
        + ", ".join(f"{o.case.name} {o.cpu:.2f} s"
                    for o in sorted(outcomes, key=lambda o: -o.cpu)[:3])
    )  # fmt: skip
    return "\n".join(lines)


def check(outcomes: list[Outcome]) -> None:
    print("\n" + table(outcomes))
    for o in outcomes:
        said = "; ".join(str(n) for n in o.notes)
        if o.case.healthy:
            assert not o.notes, f"healthy run {o.case.name!r} was told: {said}"
        for pair in CONTRADICTIONS:
            assert not pair <= o.kinds, f"{o.case.name!r} was told both {sorted(pair)}: {said}"
        advice = " ".join(n.advice for n in o.notes)
        assert not ("higher learning rate" in advice and "lower learning rate" in advice), (
            f"{o.case.name!r} was told to raise and to lower the learning rate: {said}"
        )
        assert not o.false, f"{o.case.name!r} was wrongly told {sorted(o.false)}: {said}"
    for kind in KINDS:
        musts = [o for o in outcomes if o.required(kind)]
        found = [o for o in musts if kind in o.kinds]
        if musts:
            missed = [o.case.name for o in musts if o not in found]
            assert len(found) >= 0.9 * len(musts), f"{kind}: recall below 90%, missed {missed}"


def test_the_fast_labelled_set() -> None:
    warm_up()
    check([run_case(c) for c in CASES if c.name in FAST])


@pytest.mark.slow
def test_the_full_labelled_set() -> None:
    warm_up()
    check([run_case(c) for c in CASES])


def test_the_labelled_set_covers_every_kind_and_dataset() -> None:
    from looplab.data.registry import DATASETS, FROM_FILES

    # (mnist is downloaded: its digits are those of mnist-5k, which the cases run offline)
    DATASETS = {k: v for k, v in DATASETS.items() if k not in FROM_FILES}
    assert len(CASES) >= 40
    assert {c.name for c in CASES} >= FAST and len({c.name for c in CASES}) == len(CASES)
    assert {c.fields.get("dataset", "moons") for c in HEALTHY if c.name in FAST} == set(DATASETS)
    assert {k for c in PROVOKED if c.name in FAST for k in c.must} == set(KINDS)
    healthy_datasets = {c.fields.get("dataset", "moons") for c in HEALTHY}
    assert healthy_datasets == set(DATASETS)
    assert {k for c in PROVOKED for k in c.must} == set(KINDS)
    for c in CASES:
        assert not c.must & c.may and c.must | c.may <= set(KINDS), c.name
