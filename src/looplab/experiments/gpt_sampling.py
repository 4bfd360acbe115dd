r"""Sampling text from a GPT: temperature and top-k, the samples a run keeps, and the saved model.

The model gives logits $z$ for the next character; sampling draws from

$$p_i = \frac{e^{z_i / T}}{\sum_{j \in K} e^{z_j / T}} \ (i \in K), \qquad p_i = 0 \ (i \notin K),$$

with $K$ the ``top_k`` largest logits (every character when ``top_k`` is 0). A temperature
$T < 1$ sharpens the distribution towards the likeliest characters, $T > 1$ flattens it. The
drawn character is appended and the model reads the last ``context`` characters again, one
character at a time. Every draw comes from a generator of its own, never torch's global one, so
sampling during training leaves the run's random numbers (and its exact resume) alone.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from looplab.data.text import Vocabulary
from looplab.errors import ConfigError, RunError
from looplab.files import write_atomic
from looplab.loop.events import Callback
from looplab.loop.history import Row
from looplab.loop.metrics import evaluate
from looplab.loop.state import LoopState
from looplab.models.gpt import GPT, GPTSpec, build_gpt

SAMPLES_FILE = "samples.json"
MODEL_FILE = "model.pt"
FORMAT_VERSION = 1
PROMPT = "\n"  # nanoGPT's sample.py starts from a new line too


def check_sampling(temperature: float, top_k: int) -> None:
    """Refuse a temperature or top-k that cannot define a distribution."""
    if not 0 < temperature < float("inf"):
        raise ConfigError(f"temperature must be a positive number, got {temperature!r}")
    if top_k < 0:
        raise ConfigError(f"top_k must be a whole number >= 0 (0: every character), got {top_k}")


def next_char_probabilities(logits: Tensor, temperature: float = 1.0, top_k: int = 0) -> Tensor:
    """(batch, vocab) logits -> (batch, vocab) probabilities: softmax of ``logits /
    temperature`` over the ``top_k`` largest (ties at the k-th value are all kept)."""
    z = logits / temperature
    if 0 < top_k < z.shape[-1]:
        kth = torch.topk(z, top_k, dim=-1).values[:, -1:]  # (batch, 1): the k-th largest
        z = z.masked_fill(z < kth, float("-inf"))
    return torch.softmax(z, dim=-1)


@torch.no_grad()
def generate(
    gpt: GPT,
    ids: Tensor,
    length: int,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """(time,) prompt ids -> (length,) sampled ids that follow them, in eval mode (the model's
    mode is put back after)."""
    check_sampling(temperature, top_k)
    was_training = gpt.training
    gpt.eval()
    context = gpt.spec.context
    seq = ids.reshape(1, -1)  # (1, time)
    for _ in range(length):
        logits = gpt(seq[:, -context:])[:, -1, :]  # (1, vocab): the last position's
        p = next_char_probabilities(logits, temperature, top_k)
        seq = torch.cat([seq, torch.multinomial(p, 1, generator=generator)], dim=1)
    gpt.train(was_training)
    return seq[0, ids.numel() :]


def sample_text(
    gpt: GPT,
    vocab: Vocabulary,
    prompt: str = PROMPT,
    length: int = 200,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    seed: int = 0,
) -> str:
    """``length`` characters that continue ``prompt`` (not included), drawn with ``seed``."""
    if not prompt:
        raise ConfigError("the prompt is empty; give at least one character, e.g. --prompt 'The '")
    generator = torch.Generator().manual_seed(seed)
    ids = vocab.encode(prompt)
    out = generate(gpt, ids, length, temperature=temperature, top_k=top_k, generator=generator)
    return vocab.decode(out)


@dataclass(frozen=True)
class Sample:
    """A sample a run kept: after ``epoch`` epochs (0: the untrained model) and ``step``
    updates, when the validation loss was ``val_loss`` (None before any evaluation)."""

    epoch: int
    step: int
    val_loss: float | None
    text: str


class SampleRecorder(Callback):
    """Samples the model before training and every ``every`` epochs (and at the last), always
    from the same seed, so what changes between samples is the model; keeps them in
    ``samples.json`` with the held-out loss at that point (before training, it evaluates the
    untrained model once). A resumed run drops the samples of epochs it is about to redo."""

    def __init__(
        self,
        gpt: GPT,
        vocab: Vocabulary,
        path: Path,
        every: int,
        length: int,
        seed: int,
        updates_per_epoch: int,
    ) -> None:
        self.gpt, self.vocab, self.path = gpt, vocab, path
        self.every, self.length, self.seed = every, length, seed
        self.updates_per_epoch = updates_per_epoch
        self.samples: list[Sample] = read_samples(path)

    def sample(self) -> str:
        return sample_text(self.gpt, self.vocab, PROMPT, self.length, seed=self.seed)

    def on_fit_start(self, state: LoopState) -> None:
        self.samples = [s for s in self.samples if s.epoch <= state.epoch]
        if state.epoch == 0 and state.batch == 0 and not self.samples:
            loss = None  # the untrained model's held-out loss: near ln V (4.51 vs 4.64 by default)
            if state.val_batches is not None:
                loss = evaluate(state.model, state.val_batches, state.loss_fn, state.task)["loss"]
            self._keep(Sample(0, 0, loss, self.sample()))

    def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
        if (self.every and epoch % self.every == 0) or epoch == state.epochs:
            step = epoch * self.updates_per_epoch
            self._keep(Sample(epoch, step, row.get("val_loss"), self.sample()))

    def _keep(self, sample: Sample) -> None:
        self.samples = [s for s in self.samples if s.epoch != sample.epoch] + [sample]
        write_atomic(self.path, json.dumps([asdict(s) for s in self.samples], indent=1).encode())


def read_samples(path: Path) -> list[Sample]:
    """The samples in ``samples.json`` (none when it does not exist yet)."""
    if not path.exists():
        return []
    return [Sample(**entry) for entry in json.loads(path.read_text())]


def save_gpt(path: Path, gpt: GPT, vocab: Vocabulary) -> None:
    """``model.pt``: the weights, the spec and the vocabulary, as tensors and plain values."""
    payload: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "kind": "gpt",
        "spec": gpt.spec.to_dict(),
        "vocabulary": vocab.chars,
        "state_dict": {k: v.detach().cpu() for k, v in gpt.state_dict().items()},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_atomic(path, buffer.getvalue())


@dataclass
class SavedGPT:
    """A GPT run read back: the model in eval mode and its vocabulary."""

    path: Path
    gpt: GPT
    vocab: Vocabulary


def load_gpt(run_dir: str | Path) -> SavedGPT:
    """Read a finished ``looplab gpt`` run directory (or its ``model.pt``)."""
    path = Path(run_dir)
    file = path if path.is_file() else path / MODEL_FILE
    if not path.exists():
        raise RunError(f"run {str(path)!r} does not exist; `looplab gpt` writes runs under runs/")
    if not file.exists():
        raise RunError(
            f"{str(path)!r} has no {MODEL_FILE}: it is not a finished looplab gpt run (resume "
            f"an interrupted one with looplab gpt --resume {path})"
        )
    try:
        payload = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged or foreign file: say so in one line
        raise RunError(f"{str(file)!r} cannot be read as a model ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("kind") != "gpt":
        raise RunError(
            f"{str(file)!r} is not a looplab gpt model; for a `looplab train` run use "
            "looplab predict"
        )
    try:
        gpt = build_gpt(GPTSpec.from_dict(payload["spec"]))
        gpt.load_state_dict(payload["state_dict"])
        vocab = Vocabulary(payload["vocabulary"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise RunError(
            f"{str(file)!r} is damaged or incomplete ({type(exc).__name__}); train again"
        ) from None
    gpt.eval()
    return SavedGPT(path.parent if path.is_file() else path, gpt, vocab)
