"""Lesson 3.8: case studies: how large models are trained, shown on the two loops looplab has
(the MLP of ``looplab train`` and the tiny GPT of ``looplab gpt``) side by side, a short GPT
run against its text's entropies, and the arithmetic of a training budget (6ND)."""

from __future__ import annotations

import ast
import inspect
import math
import re
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from looplab import gpt_pipeline, pipeline
from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.experiments.gpt import build_parts
from looplab.experiments.gpt_config import GPTConfig
from looplab.gpt_pipeline import train_gpt
from looplab.lessons.exercise import Args, Case, Exercise, Mistake, Outputs, Verdict
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.loop import kernel
from looplab.loop.events import Callback
from looplab.models.gpt import FlatLogits
from looplab.models.losses import TaskLoss
from looplab.models.mlp import build_model
from looplab.plots.gpt import gpt_loss_curves
from looplab.plots.style import save
from looplab.run import fit as one_call
from looplab.run.build import build, model_spec
from looplab.run.threads import torch_threads

# ---------------------------------------------------------------- demos


def two_loops_side_by_side(fast: bool = False, out: Path = Path("lessons/3.8")) -> DemoResult:
    """What ``looplab train`` (the MLP on moons) and ``looplab gpt`` hand to the same kernel,
    read from the objects each one builds (``run.build.build`` and ``experiments.gpt.
    build_parts``) and from their source: the same loop and events, other batches, optimizer,
    schedule and gradient handling. Nothing is trained here."""
    config, gpt_config = Config(device="cpu"), GPTConfig()
    data = load_prepared(config)
    mlp = build(build_model(model_spec(config, data), seed=0), data, config)
    gpt = build_parts(gpt_config)
    result = DemoResult()

    # the kernel: the five lines of the training step, as the source says them
    step = [line.split("#")[0].strip() for line in inspect.getsource(kernel.fit).splitlines()]
    wanted = ("zero_grad()", "state.model(xb)", "loss_fn(", ".backward()", "optimizer.step()")
    five = [next(line for line in step if w in line) for w in wanted]
    # looplab train goes pipeline -> run.fit.fit -> loop.fit; looplab gpt calls loop.fit itself
    callers = [m.__name__ for m in (one_call, gpt_pipeline) if "loop.fit(" in inspect.getsource(m)]
    result.add("the same: modules calling looplab.loop.fit", len(callers),
               f"{' and '.join(callers)} call one kernel; its step: "
               + "; ".join(five))  # fmt: skip
    events = [n for n in vars(Callback) if n.startswith("on_")]
    result.add("the same: events", len(events), ", ".join(events) + ": what both runs hang on")

    def watchers(module: object) -> set[str]:
        """Names a pipeline imports from looplab.watch (what watches its run)."""
        tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
        found = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        return {a.name for n in found if (n.module or "").startswith("looplab.watch")
                for a in n.names}  # fmt: skip

    shared = {n for n in watchers(pipeline) & watchers(gpt_pipeline) if not n.isupper()}
    roles = {"Checkpointer": "checkpoints, exact resume", "DivergenceGuard": "the NaN guard",
             "HistoryWriter": "history.csv", "ClipCounter": "how often the clip acts",
             "SignalCatcher": "Ctrl-C and SIGTERM"}  # fmt: skip
    named = [f"{n} ({roles[n]})" if n in roles else n for n in sorted(shared)]
    result.add("the same: callbacks both import", len(shared), ", ".join(named))

    mlp_x, _ = next(iter(mlp.train.epoch()))  # (32, 2) rows of features
    gpt_x, gpt_y = next(iter(gpt.train.epoch()))  # (12, 64) ids; (768,) next ids
    result.add("added: predictions per batch, GPT", gpt_y.numel(),
               f"{type(gpt.train).__name__}: {tuple(gpt_x.shape)} windows of ids at random "
               f"offsets, every position an example; an epoch is {len(gpt.train)} updates. "
               f"The MLP: {type(mlp.train).__name__}, {tuple(mlp_x.shape)} rows, an epoch is "
               f"one pass ({len(mlp.train)} batches)")  # fmt: skip

    def torch_name(optimizer: object) -> str:
        """The torch.optim class an optimizer is (or is a subclass of)."""
        return next(c.__name__ for c in type(optimizer).__mro__
                    if c.__module__.startswith("torch.optim"))  # fmt: skip

    def groups(optimizer: object) -> str:
        """Each param group's size and weight decay."""
        return ", ".join(
            f"{sum(p.numel() for p in g['params']):,} weights at decay {g['weight_decay']:g}"
            for g in optimizer.param_groups  # type: ignore[attr-defined]
        )

    decayed = sum(p.numel() for g in gpt.optimizer.param_groups if g["weight_decay"] > 0
                  for p in g["params"])  # fmt: skip
    result.add("added: share of GPT weights decayed", decayed / gpt.gpt.parameter_count(),
               f"{torch_name(gpt.optimizer)} in {len(gpt.optimizer.param_groups)} groups: "
               f"{groups(gpt.optimizer)} (matrices and embeddings decay, layer-norm gains "
               f"not); the MLP: {torch_name(mlp.optimizer)}, "
               f"{groups(mlp.optimizer)}")  # fmt: skip

    lrs = {}
    with warnings.catch_warnings():  # stepping the schedule without training: torch warns
        warnings.simplefilter("ignore")
        for update in range(gpt_config.iterations):
            if update in (0, gpt_config.warmup // 2, gpt_config.warmup, gpt_config.iterations // 2,
                          gpt_config.iterations - 1):  # fmt: skip
                lrs[update] = float(gpt.optimizer.param_groups[0]["lr"])
            gpt.schedule.after_update()
    result.add("added: GPT lr at update 0 / peak", lrs[0] / gpt_config.lr,
               "warm-up then cosine: " + ", ".join(f"update {u}: {v:.3g}" for u, v in lrs.items())
               + f"; the MLP: {mlp.optimizer.param_groups[0]['lr']:g} at every update "
               f"({'no schedule' if mlp.scheduler is None else 'scheduled'})")  # fmt: skip
    result.add("added: GPT clip norm", gpt_config.clip_norm,
               f"the global gradient norm clipped to {gpt_config.clip_norm:g} before every "
               f"step (fit(clip_norm=)); the MLP: {config.clip_norm} (not clipped)")  # fmt: skip
    result.add("both: batches per update (accumulate)", gpt_config.accumulate,
               "fit(accumulate=K) averages K batches' gradients into one update (a flag of "
               f"both: here K = {gpt_config.accumulate} and {config.accumulate}); the GPT also "
               f"evaluates the held-out text every {gpt_config.eval_every} updates "
               f"({gpt.val.characters:,} predictions) and keeps samples of text")  # fmt: skip
    return result


def a_short_gpt_run(fast: bool = False, out: Path = Path("lessons/3.8")) -> DemoResult:
    """``train_gpt`` (all of ``looplab gpt``) on CPython's help text: the default model (4
    layers x 128 dims, context 64) for 800 updates instead of 2,000 (2 to 3 minutes on a
    busy 2-core laptop; fast mode: 1 layer x 32 dims, context 32, 300 updates at a 10 x larger
    lr, a few seconds). Its held-out loss is set against the text's unigram and bigram
    entropies; its first and last samples (temperature 1, the same seed) are read for words
    and scored by a bigram counter of the text."""
    if fast:
        config = GPTConfig(context=32, layers=1, heads=2, dim=32, batch_size=16, iterations=300,
                           eval_every=100, warmup=20, lr=1e-2, min_lr=1e-3,
                           sample_length=600)  # fmt: skip
    else:
        config = GPTConfig(iterations=800, samples_every=4, sample_length=600)
    with tempfile.TemporaryDirectory() as temporary:  # the run directory lives only here
        run = train_gpt(GPTConfig(**{**config.to_dict(), "out": temporary, "name": "lesson"}))
    base = run.baselines
    assert base is not None
    first, last = run.samples[0], run.samples[-1]
    words = set(re.findall(r"[A-Za-z]{2,}", run.data.vocab.decode(run.data.train)))

    def real_words(text: str) -> float:
        """The share of a sample's letter runs (2+ letters) that are words of the text."""
        found = re.findall(r"[A-Za-z]{2,}", text)
        return sum(w in words for w in found) / max(1, len(found))

    v = len(run.data.vocab)
    pairs = torch.bincount(run.data.train[:-1] * v + run.data.train[1:], minlength=v * v)
    pairs = pairs.view(v, v).double() + 1  # (previous, next) counts, add-one: none is 0

    def bigram_loss(text: str) -> float:
        """Nats per character the text's bigram counts (add-one) give the sample's pairs."""
        ids = run.data.vocab.encode(text)  # (characters,)
        p = pairs[ids[:-1], ids[1:]] / pairs[ids[:-1]].sum(dim=1)
        return float(-p.log().mean())

    fig = gpt_loss_curves(run.history, config.eval_every,
                          {"ln V": base.uniform, "unigram H1": base.unigram,
                           "bigram H2": base.bigram},
                          f"a {config.layers}-layer GPT on {run.data.corpus.description}",
                          initial=first.val_loss)  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "gpt_loss.png"))
    result = DemoResult(figures=[out / "gpt_loss.png"])
    params = run.gpt.parameter_count()
    result.add("held-out loss before training", first.val_loss or math.nan,
               f"nats per character; ln V = {base.uniform:.3f} is a uniform guess over "
               f"V = {len(run.data.vocab)} symbols")  # fmt: skip
    result.add(
        "unigram entropy H1",
        base.unigram,
        "the best loss without context (character frequencies of the training text)",
    )
    result.add("bigram entropy H2", base.bigram, "the best loss seeing one character back")
    result.add("held-out loss after training", run.val_loss,
               f"{params:,} parameters, {config.iterations} updates of "
               f"{config.batch_size} x {config.context} characters: "
               + ("below H2: it uses more than the previous character" if run.val_loss
                  < base.bigram else "below H1, not yet below H2: more updates"
                  if run.val_loss < base.unigram else "above H1: more updates")
               + f" ({sum(run.history.column('time_s')):.0f} s in the loop)")  # fmt: skip
    for name, sample in (("start", first), ("end", last)):
        text = sample.text.replace("\n", " / ")[:160]
        result.add(f"real words in the sample, {name}", real_words(sample.text),
                   f"after {sample.step} updates, share of its letter runs that are words of "
                   f"the text: {text!r}")  # fmt: skip
    for name, sample in (("start", first), ("end", last)):
        result.add(f"bigram loss of the sample, {name}", bigram_loss(sample.text),
                   "nats per character a bigram counter of the training text gives the "
                   "sample's pairs of characters (H2 on the text itself): how text-like it "
                   "reads pair by pair")  # fmt: skip
    return result


def the_numbers_of_scale(fast: bool = False, out: Path = Path("lessons/3.8")) -> DemoResult:
    """A training budget in three numbers: N parameters, D tokens, and C = 6ND FLOPs (2 per
    weight per token forward, 4 backward). Checked on the default tiny GPT against torch's own
    FLOP counter, timed on this machine, then applied to a published large model: Chinchilla
    (Hoffmann et al., 2022: 70e9 parameters on 1.4e12 tokens, about 20 tokens per parameter).
    Those two inputs are the papers'; every number below is computed here from them."""
    config = GPTConfig()
    parts = build_parts(config)
    model, loss_fn = FlatLogits(parts.gpt), TaskLoss("multiclass")
    n = parts.gpt.parameter_count()
    batches = iter(parts.train.epoch())
    xb, yb = next(batches)  # (12, 64) ids, (768,) next ids
    tokens = xb.numel()
    with FlopCounterMode(display=False) as counter:
        loss_fn(model(xb), yb).backward()
    counted = counter.get_total_flops() / tokens
    matmul = counter.get_flop_counts()["Global"].get(torch.ops.aten.mm, 0) / tokens

    steps = 3 if fast else 20
    with torch_threads(1):  # one core: the rate a busy laptop can count on
        for i in range(steps + 1):  # the first step is a warm-up, not timed
            if i == 1:
                started = time.perf_counter()
            parts.optimizer.zero_grad()
            loss_fn(model(xb), yb).backward()
            parts.optimizer.step()
            xb, yb = next(batches)
        seconds = time.perf_counter() - started
    rate = steps * tokens / seconds  # tokens per second, training

    result = DemoResult()
    result.add("parameters N, tiny GPT", n, f"{config.layers} layers x {config.dim} dims, "
               f"context {config.context} (the tied embedding counted once)")  # fmt: skip
    result.add("training FLOPs per token, 6N", 6 * n, "2N forward + 4N backward")
    result.add("training FLOPs per token, counted by torch", counted,
               f"torch.utils.flop_counter on one batch: {matmul:,.0f} in matrix products (6 x "
               "the weights that multiply: not the position embedding or layer-norm gains), "
               f"the other {counted - matmul:,.0f} in attention over {config.context} positions, "
               "which 6N leaves out")  # fmt: skip
    result.add("tokens per second, training, one core", rate,
               f"{steps} AdamW updates of {tokens} tokens timed on this machine: "
               f"{rate * counted / 1e9:.2f} GFLOP/s")  # fmt: skip
    seen = config.iterations * tokens
    result.add("tokens the default run sees / 20N", seen / (20 * n),
               f"{seen:,} tokens against Chinchilla's 20 per parameter ({20 * n:,}): the "
               "tiny run is short of compute-optimal")  # fmt: skip
    big_n, big_d = 70e9, 1.4e12  # Chinchilla (Hoffmann et al., 2022)
    compute = 6 * big_n * big_d
    result.add("Chinchilla: tokens per parameter", big_d / big_n, "D / N from the paper's two "
               "inputs: the rule of thumb D ~ 20 N")  # fmt: skip
    result.add(
        "Chinchilla: training FLOPs 6ND",
        compute,
        "computed here from N and D; the paper reports its budget in the same units",
    )
    years = compute / (rate * counted) / (365.25 * 24 * 3600)
    result.add("Chinchilla on this core, years", years,
               f"at the rate measured above ({rate * counted:.3g} FLOP/s): why such runs take "
               "thousands of accelerators for months")  # fmt: skip
    return result


# ---------------------------------------------------------------- exercise 3.8.1


def causal_attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """One head of causal self-attention: softmax(q k^T / sqrt(d) + M) v.

    q, k, v are (batch, time, d). Position t may look at positions s <= t only: the mask M is
    0 where s <= t and -inf where s > t (the future), added to the scores before the softmax
    over s. Return (batch, time, d).

    >>> q = k = torch.zeros(1, 2, 4)
    >>> v = torch.tensor([[[1.0, 0, 0, 0], [3.0, 0, 0, 0]]])
    >>> causal_attention(q, k, v)[0, :, 0]
    tensor([1., 2.])
    """
    t, d = q.shape[-2], q.shape[-1]
    scores = q @ k.transpose(-2, -1) / d**0.5  # (batch, time, time): query t, key s
    future = torch.ones(t, t, dtype=torch.bool).triu(diagonal=1)  # (time, time): s > t
    weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
    return weights @ v  # (batch, time, d)


def _attention_cases() -> list[Case]:
    def make(batch: int, time: int, d: int, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            return tuple(torch.randn(batch, time, d, generator=g) for _ in range(3))

        return Case(f"(batch, time, d) = ({batch}, {time}, {d})", args)

    return [make(1, 4, 8, 0), make(2, 6, 4, 1), make(3, 5, 16, 2), make(1, 9, 2, 3)]


def _attention(way: str) -> object:
    """The oracle (``way`` "causal": torch's fused kernel) or a known mistake: no mask ("all"),
    the other triangle masked ("future"), no 1/sqrt(d) ("unscaled")."""

    def run(q: Tensor, k: Tensor, v: Tensor) -> Outputs:
        if way == "future":  # each position sees itself and the ones after it
            t = q.shape[-2]
            allowed = torch.ones(t, t, dtype=torch.bool).triu()
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        else:
            out = F.scaled_dot_product_attention(
                q, k, v, is_causal=way != "all", scale=1.0 if way == "unscaled" else None
            )
        return {"result": out}

    return run


CAUSAL_ATTENTION = Exercise(
    id="3.8.1",
    title="causal self-attention, one head",
    solution=causal_attention,
    cases=_attention_cases,
    oracle=_attention("causal"),  # type: ignore[arg-type]
    oracle_name="torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)",
    hints=(
        "scores = q @ k^T / sqrt(d), (batch, time, time); set the scores of future keys "
        "(s > t: above the diagonal) to -inf; softmax over the last dimension; times v",
        "future = torch.ones(t, t, dtype=torch.bool).triu(diagonal=1); "
        "torch.softmax(scores.masked_fill(future, float('-inf')), dim=-1) @ v",
    ),
    mistakes=(
        Mistake(
            "no mask",
            "mask the future: without it every position reads the characters it should "
            "predict (mask the scores where s > t with -inf before the softmax)",
            _attention("all"),  # type: ignore[arg-type]
        ),
        Mistake(
            "the wrong triangle",
            "the mask is the wrong triangle: position t may see s <= t, so mask above the "
            "diagonal (triu(diagonal=1)), not below it",
            _attention("future"),  # type: ignore[arg-type]
        ),
        Mistake(
            "no scale",
            "divide the scores by sqrt(d): q.k grows with d, and unscaled scores push the "
            "softmax towards one key",
            _attention("unscaled"),  # type: ignore[arg-type]
        ),
    ),
    rtol=1e-4,
    atol=1e-5,
)

# ---------------------------------------------------------------- exercise 3.8.2


def random_windows(
    ids: Tensor, block_size: int, batch_size: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """A language model's batch: batch_size windows of the 1-D token tensor ids at random
    offsets, and the next token at every position.

    Draw each offset o uniformly from 0 .. len(ids) - block_size - 1 with generator (so that
    the target window fits); row i of x is ids[o : o + block_size] and row i of y is the same
    window shifted by one, ids[o + 1 : o + block_size + 1]. Return (x, y), both
    (batch_size, block_size).

    >>> x, y = random_windows(torch.arange(5), 4, 2, torch.Generator().manual_seed(0))
    >>> x, y
    (tensor([[0, 1, 2, 3],
            [0, 1, 2, 3]]), tensor([[1, 2, 3, 4],
            [1, 2, 3, 4]]))
    """
    offsets = torch.randint(len(ids) - block_size, (batch_size,), generator=generator)
    x = torch.stack([ids[o : o + block_size] for o in offsets.tolist()])  # (batch, block)
    y = torch.stack([ids[o + 1 : o + block_size + 1] for o in offsets.tolist()])
    return x, y


def _window_cases() -> list[Case]:
    def make(n: int, block: int, batch: int, vocab: int, seed: int) -> Case:
        def args() -> Args:
            ids = torch.randint(vocab, (n,), generator=torch.Generator().manual_seed(100 + seed))
            return ids, block, batch, torch.Generator().manual_seed(seed)

        return Case(f"{n} tokens of {vocab}, block {block}, batch {batch}", args)

    return [make(200, 8, 4, 50, 0), make(50, 5, 16, 3, 1), make(1000, 32, 8, 100, 2),
            make(12, 11, 3, 7, 3)]  # fmt: skip


def _observe_windows(fn: object, args: Args) -> Outputs:
    """Two calls with the same seed and one with another: reproducible, and really random."""
    ids, block, batch, generator = args
    seed = generator.initial_seed()
    draw = cast(Callable[..., Any], fn)
    calls = [
        draw(ids, block, batch, torch.Generator().manual_seed(s)) for s in (seed, seed, seed + 1)
    ]
    for call in calls:
        if not (isinstance(call, tuple | list) and len(call) == 2
                and all(isinstance(t, Tensor) for t in call)):  # fmt: skip
            raise TypeError("should return two tensors (x, y)")
    (x, y), (x2, y2), (x3, _) = calls
    return {"x": x, "y": y, "same seed": torch.cat([x2, y2]), "other seed": x3}


def _judge_windows(got: Outputs, args: Args) -> Verdict | None:
    """Shapes; y is x shifted by one; every row a real window of ids; seeded."""
    ids, block, batch, _ = args
    x, y = got["x"], got["y"]
    if tuple(x.shape) != (batch, block) or tuple(y.shape) != (batch, block):
        return f"x is {tuple(x.shape)} and y {tuple(y.shape)}, expected ({batch}, {block}) each", (
            "stack batch_size windows of block_size tokens: x and y are (batch_size, block_size)"
        )
    if torch.equal(x, y):
        return "y equals x", (
            "y is x shifted by one: y = ids[o + 1 : o + block_size + 1], the next token at "
            "every position"
        )
    if not torch.equal(y[:, :-1], x[:, 1:]):
        return "y[:, :-1] differs from x[:, 1:]", (
            "y is the same window shifted by one token: ids[o + 1 : o + block_size + 1]"
        )
    windows = ids.unfold(0, block + 1, 1)  # (offsets, block + 1): every real window
    rows = torch.cat([x, y[:, -1:]], dim=1)  # (batch, block + 1)
    real = (rows[:, None, :] == windows[None, :, :]).all(-1).any(-1)  # (batch,)
    if not bool(real.all()):
        row = int((~real).nonzero()[0])
        return f"row {row} of (x, y) is not a window of consecutive tokens of ids", (
            "take consecutive tokens: x[i] = ids[o : o + block_size] for one offset o per row"
        )
    if not torch.equal(torch.cat([x, y]), got["same seed"]):
        return "the same seed gave different windows", (
            "draw the offsets with the generator you are given: torch.randint(len(ids) - "
            "block_size, (batch_size,), generator=generator)"
        )
    if len(windows) >= 10 and torch.equal(x, got["other seed"]):
        return "another seed gave the same windows", (
            "draw the offsets at random with the generator you are given"
        )
    return None


RANDOM_WINDOWS = Exercise(
    id="3.8.2",
    title="random context windows as a batch",
    solution=random_windows,
    cases=_window_cases,
    oracle_name="y[:, :-1] == x[:, 1:], every row a window of ids, the same seed the same batch",
    observe=_observe_windows,
    judge=_judge_windows,
    outputs=("x", "y"),
    hints=(
        "draw batch_size offsets with torch.randint(len(ids) - block_size, (batch_size,), "
        "generator=generator); slice a window at each",
        "x = torch.stack([ids[o : o + block_size] for o in offsets.tolist()]); y the same "
        "with o + 1",
    ),
)

# ---------------------------------------------------------------- exercise 3.8.3


def top_k_probabilities(logits: Tensor, temperature: float, k: int) -> Tensor:
    """The distribution to sample the next token from: softmax(logits / temperature) over the
    k largest logits of each row, probability 0 for the others.

    logits is (batch, vocab), temperature > 0, 1 <= k <= vocab. Divide by the temperature
    before the softmax (T < 1 sharpens, T > 1 flattens); each row of the result sums to 1.

    >>> top_k_probabilities(torch.tensor([[0.0, 2.0, 1.0]]), 1.0, 2)
    tensor([[0.0000, 0.7311, 0.2689]])
    """
    z = logits / temperature
    kth = torch.topk(z, k, dim=-1).values[:, -1:]  # (batch, 1): the k-th largest
    return torch.softmax(z.masked_fill(z < kth, float("-inf")), dim=-1)


def _top_k_cases() -> list[Case]:
    def make(batch: int, vocab: int, temperature: float, k: int, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            return 3 * torch.randn(batch, vocab, generator=g), temperature, k

        return Case(f"({batch}, {vocab}) logits, T = {temperature}, k = {k}", args)

    return [make(2, 10, 1.0, 3, 0), make(4, 30, 0.5, 5, 1), make(1, 8, 2.0, 8, 2),
            make(3, 20, 0.8, 1, 3), make(2, 50, 1.5, 10, 4)]  # fmt: skip


def _top_k(way: str) -> object:
    """The oracle (``way`` "right": torch.topk, a softmax of the kept values scattered back)
    or a known mistake: the temperature after the softmax ("after"), the softmax over every
    logit with the others then zeroed and not renormalized ("unnormalized")."""

    def run(logits: Tensor, temperature: float, k: int) -> Outputs:
        scaled = logits if way == "after" else logits / temperature
        values, where = torch.topk(scaled, k, dim=-1)  # (batch, k) each
        if way == "unnormalized":
            kept = torch.softmax(scaled, dim=-1).gather(-1, where)
        else:
            kept = torch.softmax(values, dim=-1)
        if way == "after":
            kept = kept / temperature
        return {"result": torch.zeros_like(logits).scatter(-1, where, kept)}

    return run


TOP_K = Exercise(
    id="3.8.3",
    title="temperature and top-k sampling probabilities",
    solution=top_k_probabilities,
    cases=_top_k_cases,
    oracle=_top_k("right"),  # type: ignore[arg-type]
    oracle_name="torch.topk, a softmax of the kept logits / T, scattered into zeros",
    hints=(
        "divide the logits by the temperature first; find the k-th largest of each row "
        "(torch.topk); set the smaller logits to -inf; softmax over the row",
        "z = logits / temperature; kth = torch.topk(z, k, dim=-1).values[:, -1:]; "
        "torch.softmax(z.masked_fill(z < kth, float('-inf')), dim=-1)",
    ),
    mistakes=(
        Mistake(
            "temperature after the softmax",
            "divide the logits by the temperature before the softmax: dividing the "
            "probabilities only rescales them (and they no longer sum to 1)",
            _top_k("after"),  # type: ignore[arg-type]
        ),
        Mistake(
            "not renormalized",
            "take the softmax over the k kept logits only (set the others to -inf first): "
            "zeroing probabilities after a softmax over all of them leaves rows that sum to "
            "less than 1",
            _top_k("unnormalized"),  # type: ignore[arg-type]
        ),
    ),
    rtol=1e-5,
    atol=1e-6,
)

LESSON = Lesson(
    id="3.8",
    title="Case studies",
    minutes=40,
    eli5=(
        "A large language model is trained by the loop you already know: take a batch, "
        "predict, measure the loss, backward, step. What changes is around those five lines. "
        "The batches are windows cut from a long text at random places, and every position in "
        "a window is a guess at the next token. The optimizer spares some weights from decay, "
        "the step size rises, then slowly falls, and the gradient is kept from growing too "
        "long. Here looplab's two jobs, the small MLP and the tiny GPT, are put side by side, "
        "the GPT is trained for a few minutes, and the arithmetic that sizes the largest runs "
        "(6 FLOPs per weight per token) is checked on it and scaled up."
    ),
    equations=(
        r"\mathcal{L} = -\frac{1}{BT} \sum_{b=1}^{B} \sum_{t=1}^{T} \ln p_\theta(x_{b,t+1} "
        r"\mid x_{b,1..t})",
        r"\mathrm{attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d}} + M"
        r"\right) V, \quad M_{ts} = \begin{cases} 0 & s \le t \\ -\infty & s > t \end{cases}",
        r"H_1 = -\sum_c p(c) \ln p(c), \qquad H_2 = -\sum_{a,b} p(a, b) \ln p(b \mid a)",
        r"C \approx 6 N D \ \text{FLOPs}, \qquad D_{\text{compute-optimal}} \approx 20 N",
    ),
    notes=(
        "The GPT's recipe (AdamW with decay on matrices only, betas (0.9, 0.99), warm-up then "
        "cosine, clipping at 1.0) is nanoGPT's, which follows GPT-2 and GPT-3; `docs/gpt.md` "
        "has the full default run (1.42 nats per character on the held-out text in about 3 "
        "CPU minutes) and `looplab gpt --help` every knob. The scaling rule is from Hoffmann "
        "et al. (2022), *Training Compute-Optimal Large Language Models*: for a budget C, "
        "loss is lowest with about 20 tokens per parameter; the 6ND count is from Kaplan et "
        "al. (2020), who add the attention term this lesson measures.",
    ),
    look_at=(
        "the two jobs share the kernel's five lines, its five events and the callbacks that "
        "checkpoint, guard and log; everything the GPT adds is an argument of fit: the "
        "batches, the optimizer's groups, the schedule, clip_norm, accumulate",
        "gpt_loss.png: the held-out loss starts near ln V, crosses the unigram entropy, then "
        "the bigram one: the model soon uses more than one character of context",
        "the samples: noise before training, real words after (a fifth of the letter runs "
        "in the full run; fewer in fast mode's tiny model), and pairs of characters a bigram "
        "counter of the text finds likely",
        "6N is within a tenth of what torch's FLOP counter counts; the rest is attention, "
        "which grows with the context",
    ),
    demos=(
        Demo("the two loops side by side", two_loops_side_by_side),
        Demo("a short GPT run against the text's entropies", a_short_gpt_run, ("gpt_loss.png",)),
        Demo("the numbers of scale: 6ND", the_numbers_of_scale),
    ),
    exercises=(CAUSAL_ATTENTION, RANDOM_WINDOWS, TOP_K),
)
