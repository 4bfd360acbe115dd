"""The report page of a ``looplab gpt`` run: its result against the text's baselines, the loss
curves, the samples it kept, the text, the model and how it was trained, its configuration.

Like ``report/html.py``, one ordered list of sections (:data:`GPT_SECTIONS`), each reading the
finished run and returning a section or None.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from looplab.config import toml_value
from looplab.plots.gpt import gpt_loss_curves
from looplab.plots.style import save
from looplab.report.blocks import Section, fmt, png_html, render, table_html

if TYPE_CHECKING:
    from looplab.experiments.gpt import GPTRun

NANOGPT_SHAKESPEARE = 1.88  # nanoGPT's README: this recipe on Shakespeare, 2,000 iterations, CPU


def gpt_title(run: GPTRun) -> str:
    """``pydoc: GPT 4 layers x 128 dims, 4 heads, context 64; 2000 updates of 12 windows``."""
    c = run.config
    corpus = "pydoc" if c.corpus == "pydoc" else Path(c.corpus).name
    batch = f"{c.batch_size} windows" + (f" x {c.accumulate} batches" if c.accumulate > 1 else "")
    return (f"{corpus}: GPT {c.layers} layers x {c.dim} dims, {c.heads} heads, context "
            f"{c.context}; {c.iterations} updates of {batch}")  # fmt: skip


def bits(nats: float) -> float:
    return nats / math.log(2)


def result_section(run: GPTRun) -> Section:
    last = run.history.last
    b = run.baselines
    rows = []
    if b is not None:
        rows += [
            ["uniform guess, ln V", fmt(b.uniform), fmt(bits(b.uniform))],
            ["unigram entropy H1 (training text)", fmt(b.unigram), fmt(bits(b.unigram))],
            ["bigram entropy H2 (training text)", fmt(b.bigram), fmt(bits(b.bigram))],
        ]
    rows.append(["this GPT, held-out text", fmt(run.val_loss), fmt(bits(run.val_loss))])
    accuracy = last.get("val_accuracy", math.nan)
    text = (
        f"<p>Held-out loss <b>{fmt(run.val_loss)} nats per character</b> "
        f"({fmt(bits(run.val_loss))} bits) after {run.config.iterations} updates; the next "
        f"character is the model's likeliest guess {fmt(100 * accuracy)}% of the time. "
        f"Training and evaluation took {run.history.seconds:.1f} s on {run.threads} CPU "
        f"thread{'s' * (run.threads > 1)}.</p>"
        "<p>H1 is the loss of the best model that ignores context, H2 of the best that sees one "
        "character back, each measured on the text it was counted from (on held-out text such "
        "models do a little worse). nanoGPT's README reports a validation loss of "
        f"{NANOGPT_SHAKESPEARE} for the same recipe on Shakespeare after 2,000 iterations: "
        "another text, so compare how far each run gets below its own text's baselines rather "
        "than the numbers.</p>"
    )
    return Section("Result", text + table_html(["model", "nats / character", "bits"], rows))


LOSS_FIGURE = "loss.png"


def loss_figure(run: GPTRun) -> Figure:
    """The loss curves with the text's baselines as lines."""
    b = run.baselines
    lines = {} if b is None else {"ln V": b.uniform, "H1": b.unigram, "H2": b.bigram}
    first = [s.val_loss for s in run.samples if s.step == 0]
    initial = first[0] if first else None  # the untrained model's held-out loss
    return gpt_loss_curves(run.history, run.config.eval_every, lines, gpt_title(run), initial)


def curves_section(run: GPTRun) -> Section:
    png = run.run_dir / LOSS_FIGURE  # written beside the report, then embedded in it
    save(loss_figure(run), str(png))
    return Section("Loss curves", png_html(png.read_bytes(), "loss curves"))


def samples_section(run: GPTRun) -> Section | None:
    if not run.samples:
        return None
    parts = ["<p>Each sample starts from a new line, drawn with the same seed at temperature 1 "
             "over every character: what changes between them is the model.</p>"]  # fmt: skip
    for s in sorted(run.samples, key=lambda s: s.epoch):
        when = "before training" if s.step == 0 else f"after {s.step} updates"
        if s.val_loss is not None:
            when += f" (held-out loss {fmt(s.val_loss)})"
        parts.append(f"<h3>{html.escape(when)}</h3><pre>{html.escape(s.text)}</pre>")
    return Section("Samples", "".join(parts))


def text_section(run: GPTRun) -> Section:
    d = run.data
    unknown = (f"{len(d.unknown_in_val)} held-out characters are not in it and are read as "
               f"the unknown symbol: {html.escape(repr(d.unknown_in_val))}") if d.unknown_in_val \
        else "every held-out character is in it"  # fmt: skip
    body = (
        f"<p>{html.escape(d.corpus.description)}: {len(d.train) + len(d.val):,} characters; the "
        f"first {len(d.train):,} to train on, the last {len(d.val):,} held out. The vocabulary "
        f"is the training text's {len(d.vocab) - 1} characters plus one unknown symbol "
        f"(V = {len(d.vocab)}); {unknown}.</p>"
    )
    return Section("The text", body)


def training_section(run: GPTRun) -> Section:
    c = run.config
    gpt = run.gpt
    decayed = [p for p in gpt.parameters() if p.ndim >= 2]
    other = [p for p in gpt.parameters() if p.ndim < 2]
    accumulate = (f"the mean gradient of {c.accumulate} batches per update"
                  if c.accumulate > 1 else "one batch per update")  # fmt: skip
    clip = f"clipped to a global norm of {c.clip_norm:g}" if c.clip_norm > 0 else "not clipped"
    fractions = [r["clip_frac"] for r in run.history.rows if "clip_frac" in r]  # per epoch
    if fractions:
        acted = round(sum(fractions) * c.eval_every)
        clip += f" (the clip acted on {acted:,} of {len(fractions) * c.eval_every:,} updates)"
    items = [
        f"{gpt.parameter_count():,} parameters (the token embedding and the output head are one "
        "tensor)",
        f"an epoch is {c.eval_every} updates on windows of {c.context} characters at random "
        f"offsets; the held-out text is evaluated after each ({c.epochs} epochs)",
        f"AdamW (betas 0.9, {c.beta2:g}), weight decay {c.weight_decay:g} on the "
        f"{len(decayed)} matrices and embeddings ({sum(p.numel() for p in decayed):,} "
        f"parameters), none on the {len(other)} layer-norm gains "
        f"({sum(p.numel() for p in other):,})",
        f"learning rate: linear warm-up over {c.warmup} updates to {c.lr:g}, then a cosine "
        f"down to {c.min_lr:g} at update {c.iterations}",
        f"gradients: {accumulate}, {clip}",
    ]
    body = "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"
    return Section("Model and training", body)


def notes_section(run: GPTRun) -> Section | None:
    if not run.history.notes:
        return None
    items = "".join(f"<li>{html.escape(m)}</li>" for m in run.history.messages)
    return Section("Notes", f"<ul>{items}</ul>")


def config_section(run: GPTRun) -> Section:
    rows = [[k, toml_value(v)] for k, v in run.config.to_dict().items()]
    return Section("Configuration", table_html(["field", "value (TOML)"], rows))


GPT_SECTIONS: list[Callable[[GPTRun], Section | None]] = [
    result_section,
    curves_section,
    samples_section,
    text_section,
    training_section,
    notes_section,
    config_section,
]


def write_gpt_report(run: GPTRun) -> None:
    """Build every section and write ``report.html`` into the run directory."""
    sections = [s for build in GPT_SECTIONS if (s := build(run)) is not None]
    run.report.write_text(render(f"looplab gpt — {gpt_title(run)}", sections))
