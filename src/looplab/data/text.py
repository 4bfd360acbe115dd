r"""Text for a character-level language model: a corpus, its vocabulary, and batches of
random windows.

The default corpus is CPython's own help text, ``pydoc_data.topics`` (what ``help("if")``
prints): English prose with code examples, installed with every Python, so it is there offline
on every machine. Its size depends on the Python version (465,126 characters in 3.11).

The vocabulary is the set of characters of the *training* text, sorted, with id 0 reserved for
every character the training text does not contain (a held-out character or a prompt's): it is
read as the unknown symbol and shown as U+FFFD ``\ufffd``.

A language model's "epoch" is not a pass over the text: it is ``batches`` batches of windows at
random offsets (:class:`RandomWindows`, drawn from the batch source's own seeded generator, so a
resumed run draws the same windows). Validation reads the held-out text once, in consecutive
windows (:class:`Blocks`), so every evaluation sees the same characters.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from looplab.errors import DataError

UNKNOWN = "\ufffd"  # how id 0, a character the training text does not contain, is shown
PYDOC = "pydoc"


@dataclass(frozen=True)
class Corpus:
    """A text and what it is: ``name`` as the user gave it, ``description`` in words."""

    name: str
    text: str
    description: str


def load_corpus(name: str) -> Corpus:
    """``pydoc`` (CPython's help topics, sorted by topic and joined by blank lines) or the path
    of a UTF-8 text file."""
    if name == PYDOC:
        try:
            from pydoc_data.topics import topics
        except ImportError:  # a Python installed without it (some minimal distributions)
            raise DataError(
                "this Python has no pydoc_data (its help text); give --corpus PATH of a UTF-8 "
                "text file"
            ) from None
        text = "\n\n".join(topics[key] for key in sorted(topics))
        import sys

        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        return Corpus(name, text, f"CPython {version}'s help text (pydoc_data.topics)")
    path = Path(name)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(
            f"corpus {name!r} does not exist; give pydoc (CPython's help text) or the path of a "
            "UTF-8 text file"
        ) from None
    except IsADirectoryError:
        raise DataError(f"corpus {name!r} is a directory; give the path of a text file") from None
    except UnicodeDecodeError:
        raise DataError(f"corpus {name!r} is not UTF-8 text; convert it to UTF-8") from None
    except OSError as exc:
        raise DataError(f"corpus {name!r} cannot be read ({exc.strerror})") from None
    return Corpus(name, text, f"the text file {path.name}")


def split_text(text: str, val_fraction: float) -> tuple[str, str]:
    """The first ``1 - val_fraction`` of the text to train on, the rest held out: one cut, so
    no window of the held-out part overlaps the training part."""
    cut = round(len(text) * (1 - val_fraction))
    return text[:cut], text[cut:]


class Vocabulary:
    """Characters <-> ids: id 0 is the unknown symbol, ids 1.. the training text's characters
    in sorted order."""

    def __init__(self, chars: str) -> None:
        self.chars = "".join(sorted(set(chars)))
        self.ids = {c: i for i, c in enumerate(self.chars, start=1)}

    def __len__(self) -> int:
        return len(self.chars) + 1  # the unknown symbol too

    def encode(self, text: str) -> Tensor:
        """(len(text),) ids, 0 for characters outside the vocabulary."""
        return torch.tensor([self.ids.get(c, 0) for c in text], dtype=torch.long)

    def decode(self, ids: Tensor | list[int]) -> str:
        """The text of ids; id 0 (or any id outside the vocabulary) is shown as U+FFFD."""
        values = ids.tolist() if isinstance(ids, Tensor) else ids
        chars = self.chars
        return "".join(chars[i - 1] if 0 < i <= len(chars) else UNKNOWN for i in values)

    def unknown(self, text: str) -> str:
        """The characters of ``text`` outside the vocabulary, each once, in order of appearance."""
        return "".join(dict.fromkeys(c for c in text if c not in self.ids))


def window_views(ids: Tensor, context: int) -> Tensor:
    """Every window of ``context + 1`` consecutive ids, as a view: (len - context, context + 1).
    Row ``s`` is the input ``ids[s : s + context]`` followed by its last target."""
    if len(ids) < context + 1:
        raise DataError(
            f"the text has {len(ids)} characters, fewer than one window of {context + 1}; "
            "lower --context or give a longer text"
        )
    return ids.unfold(0, context + 1, 1)


class RandomWindows:
    """``batches`` batches per epoch, each ``batch_size`` windows at offsets drawn uniformly from
    the text: inputs (batch, context) and targets (batch * context,), the next character at
    each position. The offsets of an epoch are drawn at its start from ``generator``; mid-epoch,
    resume rewinds it to before that draw, as :class:`looplab.data.batches.Batches` does."""

    def __init__(
        self,
        ids: Tensor,
        context: int,
        batch_size: int,
        batches: int,
        generator: torch.Generator,
    ) -> None:
        self.windows = window_views(ids, context)  # (offsets, context + 1)
        self.batch_size = batch_size
        self.batches = batches
        self.generator = generator
        self.epoch_state: Tensor = generator.get_state()

    def __len__(self) -> int:
        return self.batches

    def epoch(self, skip: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        self.epoch_state = self.generator.get_state()
        offsets = torch.randint(
            len(self.windows), (self.batches, self.batch_size), generator=self.generator
        )  # (batches, batch)
        for row in offsets[skip:]:
            window = self.windows.index_select(0, row)  # (batch, context + 1), a copy
            yield window[:, :-1], window[:, 1:].reshape(-1)

    def state_dict(self) -> dict[str, Any]:
        return {"windows": self.generator.get_state(), "windows_epoch": self.epoch_state}

    def load_state_dict(self, state: dict[str, Any], mid_epoch: bool) -> None:
        self.generator.set_state(state["windows_epoch"] if mid_epoch else state["windows"])


class Blocks:
    """The held-out text in consecutive windows of ``context`` inputs and their ``context``
    targets: every character after the first is predicted once (the last ``< context``
    characters, which fill no window, are left out). No randomness: every pass is the same."""

    def __init__(self, ids: Tensor, context: int, batch_size: int) -> None:
        n = (len(ids) - 1) // context  # whole windows
        if n == 0:
            raise DataError(
                f"the held-out text has {len(ids)} characters, fewer than one window of "
                f"{context + 1}; raise --val-fraction or lower --context"
            )
        self.inputs = ids[: n * context].view(n, context)
        self.targets = ids[1 : n * context + 1].view(n, context)
        self.batch_size = batch_size

    def __len__(self) -> int:
        return math.ceil(len(self.inputs) / self.batch_size)

    @property
    def characters(self) -> int:
        """How many characters one pass predicts."""
        return self.targets.numel()

    def epoch(self, skip: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        b = self.batch_size
        for start in range(skip * b, len(self.inputs), b):
            yield self.inputs[start : start + b], self.targets[start : start + b].reshape(-1)

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any], mid_epoch: bool) -> None:
        """Nothing to restore: the blocks are the same every pass."""


def unigram_entropy(ids: Tensor, vocab_size: int) -> float:
    r"""$H_1 = -\sum_c p(c) \ln p(c)$ in nats per character, $p$ the characters' frequencies:
    the loss of the best model that ignores context, on this text."""
    counts = torch.bincount(ids, minlength=vocab_size).double()
    p = counts[counts > 0] / counts.sum()
    return float(-(p * p.log()).sum())


def bigram_entropy(ids: Tensor, vocab_size: int) -> float:
    r"""$H_2 = H(X_t \mid X_{t-1}) = -\sum_{a,b} p(a, b) \ln p(b \mid a)$ in nats per character,
    from the text's pair counts: the loss of the best model that sees one character back, on
    the text it was counted from."""
    pairs = torch.bincount(ids[:-1] * vocab_size + ids[1:], minlength=vocab_size**2).double()
    pairs = pairs.view(vocab_size, vocab_size)  # (previous, next) counts
    first = pairs.sum(dim=1, keepdim=True)  # (previous, 1): how often each begins a pair
    seen = pairs > 0
    joint = pairs[seen] / pairs.sum()
    conditional = (pairs / first.clamp(min=1))[seen]
    return float(-(joint * conditional.log()).sum())
