"""Lesson 3.8 in fast mode: the two jobs' differences read from the objects they build, the
short GPT run against entropies counted here from the text itself, and 6ND against closed
forms."""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter

import pytest

from looplab.data.text import Vocabulary, load_corpus, split_text
from looplab.experiments.gpt_config import GPTConfig
from looplab.lessons.lesson import DemoResult
from looplab.loop.events import Callback
from looplab.models.gpt import GPTSpec, build_gpt

Runs = dict[str, dict[str, DemoResult]]


def _entropy(counts: Counter[str]) -> float:
    total = sum(counts.values())
    return -sum(c / total * math.log(c / total) for c in counts.values())


def test_3_8_the_two_jobs_share_the_kernel_and_differ_in_its_arguments(runs: Runs) -> None:
    r = runs["3.8"]["two_loops_side_by_side"]
    said = {n.name: n.sentence for n in r.numbers}
    assert r["the same: modules calling looplab.loop.fit"] == 2
    for line in ("zero_grad()", "state.model(xb)", ".backward()", "state.optimizer.step()"):
        assert line in said["the same: modules calling looplab.loop.fit"], line
    events = [name for name in vars(Callback) if name.startswith("on_")]
    assert r["the same: events"] == 5 and ", ".join(events) in said["the same: events"]
    for callback in ("Checkpointer", "DivergenceGuard", "HistoryWriter", "SignalCatcher"):
        assert callback in said["the same: callbacks both import"], callback
    config = GPTConfig()
    assert r["added: predictions per batch, GPT"] == config.batch_size * config.context
    # nanoGPT's rule, counted here on a freshly built default GPT: 2+ dimensions decay
    gpt = build_gpt(GPTSpec(104, config.context, config.layers, config.heads, config.dim))
    weights = {p.data_ptr(): p for p in gpt.state_dict(keep_vars=True).values()}  # tied once
    decayed = sum(p.numel() for p in weights.values() if p.ndim >= 2)
    share = decayed / sum(p.numel() for p in weights.values())
    assert r["added: share of GPT weights decayed"] == pytest.approx(share, rel=1e-9)
    assert "AdamW in 2 groups" in said["added: share of GPT weights decayed"]
    assert "the MLP: Adam, 337 weights at decay 0" in said["added: share of GPT weights decayed"]
    # warm-up then cosine by nanoGPT's get_lr, written out here
    w, n, top, bottom = config.warmup, config.iterations, config.lr, config.min_lr
    assert r["added: GPT lr at update 0 / peak"] == pytest.approx(1 / (w + 1), rel=1e-9)
    for t in (w // 2, n // 2, n - 1):
        lr = (
            top * (t + 1) / (w + 1)
            if t < w
            else (bottom + 0.5 * (top - bottom) * (1 + math.cos(math.pi * (t - w) / (n - w))))
        )
        assert f"update {t}: {lr:.3g}" in said["added: GPT lr at update 0 / peak"], (t, lr)
    assert r["added: GPT clip norm"] == 1.0
    assert "the MLP: None (not clipped)" in said["added: GPT clip norm"]


def test_3_8_the_short_run_beats_the_bigram_entropy_and_learns_words(runs: Runs) -> None:
    r = runs["3.8"]["a_short_gpt_run"]
    train_text, _ = split_text(load_corpus("pydoc").text, 0.1)
    h1 = _entropy(Counter(train_text))  # the characters' frequencies, counted by Python
    pairs = Counter(itertools.pairwise(train_text))
    h2 = _entropy(Counter({"".join(p): c for p, c in pairs.items()})) - _entropy(
        Counter(train_text[:-1])
    )  # H(X_t | X_t-1) = H(pair) - H(first of the pair)
    assert r["unigram entropy H1"] == pytest.approx(h1, rel=1e-9)
    assert r["bigram entropy H2"] == pytest.approx(h2, rel=1e-9)
    v = len(Vocabulary(train_text))
    assert abs(r["held-out loss before training"] - math.log(v)) < 0.2  # near a uniform guess
    assert r["held-out loss after training"] < r["bigram entropy H2"] < r["unigram entropy H1"]
    assert r["real words in the sample, start"] < 0.1
    # fast mode's 16k-parameter model, 300 updates: more real words, pairs far more text-like
    assert r["real words in the sample, end"] > r["real words in the sample, start"]
    assert r["bigram loss of the sample, end"] < r["bigram loss of the sample, start"] - 2
    assert r["bigram entropy H2"] < r["bigram loss of the sample, end"]
    figure = r.figures[0]
    assert figure.name == "gpt_loss.png" and figure.read_bytes()[:4] == b"\x89PNG"


def test_3_8_six_n_d_matches_the_closed_forms(runs: Runs) -> None:
    r = runs["3.8"]["the_numbers_of_scale"]
    said = {n.name: n.sentence for n in r.numbers}
    config = GPTConfig()
    gpt = build_gpt(GPTSpec(104, config.context, config.layers, config.heads, config.dim))
    weights = {p.data_ptr(): p for p in gpt.state_dict(keep_vars=True).values()}
    n = sum(p.numel() for p in weights.values())
    assert r["parameters N, tiny GPT"] == n
    assert r["training FLOPs per token, 6N"] == 6 * n
    # matrix products: 2 FLOPs per multiplying weight forward, 4 backward; the position
    # embedding is looked up and the layer-norm gains scale, so neither multiplies
    multiplying = sum(p.numel() for p in weights.values() if p.ndim >= 2) - config.context * (
        config.dim
    )
    matmul = 6 * multiplying
    assert f"{matmul:,} in matrix products" in said["training FLOPs per token, counted by torch"]
    # attention: q k^T and (weights) v, 2 T d each per token and layer forward; torch counts its
    # fused kernel's backward as 2.5 times the forward
    layers, t, d = config.layers, config.context, config.dim
    attention = 3.5 * 4 * layers * t * d
    assert r["training FLOPs per token, counted by torch"] == pytest.approx(matmul + attention)
    assert 1.0 < r["training FLOPs per token, counted by torch"] / (6 * n) < 1.1
    rate = r["tokens per second, training, one core"]
    assert rate > 100
    seen = config.iterations * config.batch_size * config.context
    assert r["tokens the default run sees / 20N"] == pytest.approx(seen / (20 * n))
    assert r["Chinchilla: tokens per parameter"] == pytest.approx(20.0)
    assert r["Chinchilla: training FLOPs 6ND"] == pytest.approx(6 * 70e9 * 1.4e12)
    flops = rate * r["training FLOPs per token, counted by torch"]
    years = 6 * 70e9 * 1.4e12 / flops / (365.25 * 24 * 3600)
    assert r["Chinchilla on this core, years"] == pytest.approx(years, rel=1e-9)
    assert re.search(
        r"\d+ AdamW updates of 768 tokens", said["tokens per second, training, one core"]
    )
