r"""A tiny decoder-only transformer (a character-level GPT, in the spirit of nanoGPT).

Characters in, a distribution over the next character out, at every position at once:

    ids (batch, time) -> token embedding + position embedding      (batch, time, dim)
                      -> layers x [x + attention(norm(x)); x + mlp(norm(x))]
                      -> norm -> head (the token embedding, transposed)  (batch, time, vocab)

Each block normalizes *before* attention and MLP (pre-layer norm, as GPT-2): the residual path
$x$ is never normalized, so the gradient reaches early layers unchanged. Attention is causal:
position $t$ mixes only positions $\le t$,

$$\mathrm{attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{Q K^\top}{\sqrt{d}} + M\right) V,
\qquad M_{ts} = \begin{cases} 0 & s \le t \\ -\infty & s > t \end{cases}$$

so one forward pass trains every position's next-character prediction without seeing the
answer. The output head shares its weight matrix with the token embedding (weight tying): one
(vocab, dim) tensor embeds a character and scores it. Linear layers and layer norms have no bias
(nanoGPT's default: "a bit better and faster"). Imports only torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from looplab.errors import ShapeError

INIT_STD = 0.02  # GPT-2's initial weight scale


@dataclass(frozen=True)
class GPTSpec:
    """Everything needed to rebuild a GPT: saved with its weights."""

    vocab_size: int
    context: int = 64  # the longest input, in characters (nanoGPT's block_size)
    layers: int = 4
    heads: int = 4
    dim: int = 128  # the width of every position's vector (n_embd); heads split it
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.dim % self.heads:
            raise ShapeError(
                f"dim {self.dim} does not split into {self.heads} heads; choose a dim that is a "
                f"multiple of heads (e.g. {self.heads * max(1, round(self.dim / self.heads))})"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GPTSpec:
        return cls(**d)


class CausalSelfAttention(nn.Module):
    """Every position attends to itself and the positions before it, in ``heads`` heads of
    ``dim / heads`` channels each; the heads' outputs are put side by side and projected."""

    def __init__(self, spec: GPTSpec) -> None:
        super().__init__()
        self.heads = spec.heads
        self.qkv = nn.Linear(spec.dim, 3 * spec.dim, bias=False)  # queries, keys, values at once
        self.proj = nn.Linear(spec.dim, spec.dim, bias=False)
        self.dropout = spec.dropout
        self.drop = nn.Dropout(spec.dropout)

    def split_heads(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(batch, time, dim) -> queries, keys, values, each (batch, heads, time, dim / heads)."""
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)  # each (batch, time, dim)
        h = self.heads
        return tuple(z.view(b, t, h, d // h).transpose(1, 2) for z in (q, k, v))

    def forward(self, x: Tensor) -> Tensor:
        """(batch, time, dim) -> (batch, time, dim)."""
        b, t, d = x.shape
        q, k, v = self.split_heads(x)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        y = y.transpose(1, 2).reshape(b, t, d)  # heads side by side again
        return self.drop(self.proj(y))  # type: ignore[no-any-return]


def masked_attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """Causal attention written out (the oracle of ``scaled_dot_product_attention``): scores
    $QK^\\top/\\sqrt{d}$, the future masked with $-\\infty$, softmax over keys, times $V$.
    q, k, v (..., time, d) -> (..., time, d)."""
    t = q.shape[-2]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., time, time)
    future = torch.ones(t, t, dtype=torch.bool, device=q.device).triu(1)  # s > t
    weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
    return weights @ v


class FeedForward(nn.Module):
    """Per position: widen 4x, GELU, project back. (batch, time, dim) -> (batch, time, dim)."""

    def __init__(self, spec: GPTSpec) -> None:
        super().__init__()
        self.fc = nn.Linear(spec.dim, 4 * spec.dim, bias=False)
        self.act = nn.GELU()
        self.proj = nn.Linear(4 * spec.dim, spec.dim, bias=False)
        self.drop = nn.Dropout(spec.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.proj(self.act(self.fc(x))))  # type: ignore[no-any-return]


class Block(nn.Module):
    """$x \\leftarrow x + \\mathrm{attn}(\\mathrm{norm}_1(x))$, then
    $x \\leftarrow x + \\mathrm{mlp}(\\mathrm{norm}_2(x))$. (batch, time, dim) in and out."""

    def __init__(self, spec: GPTSpec) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(spec.dim, bias=False)
        self.attn = CausalSelfAttention(spec)
        self.norm2 = nn.LayerNorm(spec.dim, bias=False)
        self.mlp = FeedForward(spec)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))  # type: ignore[no-any-return]


class GPT(nn.Module):
    """ids (batch, time) -> next-character logits (batch, time, vocab); time <= context."""

    def __init__(self, spec: GPTSpec) -> None:
        super().__init__()
        self.spec = spec
        self.tokens = nn.Embedding(spec.vocab_size, spec.dim)
        self.positions = nn.Embedding(spec.context, spec.dim)
        self.drop = nn.Dropout(spec.dropout)
        self.blocks = nn.ModuleList(Block(spec) for _ in range(spec.layers))
        self.norm = nn.LayerNorm(spec.dim, bias=False)
        self.head = nn.Linear(spec.dim, spec.vocab_size, bias=False)
        self.head.weight = self.tokens.weight  # weight tying: one (vocab, dim) tensor
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2's initialization: weights ~ N(0, 0.02^2); the projections that write into the
        residual path ~ N(0, (0.02 / sqrt(2 layers))^2), since 2 x layers of them add up there;
        layer norms start as the identity."""
        residual_std = INIT_STD / math.sqrt(2 * self.spec.layers)
        for name, p in self.named_parameters():  # the tied embedding once, as "tokens.weight"
            if p.ndim < 2:
                continue  # layer-norm gains: ones, as built
            nn.init.normal_(p, 0.0, residual_std if name.endswith("proj.weight") else INIT_STD)

    def forward(self, ids: Tensor) -> Tensor:
        """(batch, time) character ids -> (batch, time, vocab) logits of the next character."""
        check_ids(ids, self.spec)
        t = ids.shape[1]
        position = torch.arange(t, device=ids.device)  # (time,)
        x = self.drop(self.tokens(ids) + self.positions(position))  # (batch, time, dim)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))  # type: ignore[no-any-return]

    def parameter_count(self) -> int:
        """Parameters, the tied embedding counted once (``parameters()`` yields it once)."""
        return sum(p.numel() for p in self.parameters())


def check_ids(ids: Tensor, spec: GPTSpec) -> None:
    """A (batch, time) tensor of whole-number ids with time <= context, or a ShapeError."""
    if ids.ndim != 2 or ids.dtype != torch.long:
        raise ShapeError(
            f"the GPT expects character ids of shape (batch, time) and dtype long, got "
            f"{tuple(ids.shape)} {ids.dtype}; encode text with the run's vocabulary"
        )
    if ids.shape[1] > spec.context:
        raise ShapeError(
            f"the GPT reads at most {spec.context} characters (its context) but got "
            f"{ids.shape[1]}; keep the last {spec.context}"
        )


class FlatLogits(nn.Module):
    """The GPT as the loop sees it: every position is one example. (batch, time) ids ->
    (batch * time, vocab) logits, matching targets of shape (batch * time,), the shapes the
    loop's cross-entropy and accuracy take."""

    def __init__(self, gpt: GPT) -> None:
        super().__init__()
        self.gpt = gpt

    def forward(self, ids: Tensor) -> Tensor:
        logits = self.gpt(ids)  # (batch, time, vocab)
        return logits.reshape(-1, logits.shape[-1])  # type: ignore[no-any-return]


def build_gpt(spec: GPTSpec, seed: int | None = None) -> GPT:
    """The GPT a spec describes; with ``seed``, its initial weights are reproducible (the
    global generator is left as it was)."""
    if seed is None:
        return GPT(spec)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return GPT(spec)
