"""The GPT: every layer's shapes, attention against a hand-written oracle, causality, weight
tying, the initial loss, and the shape errors a user can meet."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from looplab.errors import ShapeError
from looplab.models.gpt import (
    INIT_STD,
    CausalSelfAttention,
    FlatLogits,
    GPTSpec,
    build_gpt,
    masked_attention,
)

SPEC = GPTSpec(vocab_size=11, context=8, layers=2, heads=2, dim=16)
B, T = 3, 5


def ids(b: int = B, t: int = T, vocab: int = SPEC.vocab_size, seed: int = 0) -> Tensor:
    return torch.randint(vocab, (b, t), generator=torch.Generator().manual_seed(seed))


def test_every_layer_has_the_shapes_of_the_docstring() -> None:
    gpt = build_gpt(SPEC, seed=0)
    seen: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}

    def record(name: str) -> object:
        def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            seen[name] = (tuple(inputs[0].shape), tuple(output.shape))

        return hook

    for name, module in gpt.named_modules():
        if name:
            module.register_forward_hook(record(name))
    out = gpt(ids())
    d, v = SPEC.dim, SPEC.vocab_size
    assert out.shape == (B, T, v)
    assert seen["tokens"] == ((B, T), (B, T, d))
    assert seen["positions"] == ((T,), (T, d))
    for i in range(SPEC.layers):
        for part in ("", ".norm1", ".attn", ".norm2", ".mlp", ".attn.proj"):
            assert seen[f"blocks.{i}{part}"] == ((B, T, d), (B, T, d)), part
        assert seen[f"blocks.{i}.mlp.proj"] == ((B, T, 4 * d), (B, T, d))
        assert seen[f"blocks.{i}.attn.qkv"] == ((B, T, d), (B, T, 3 * d))
        assert seen[f"blocks.{i}.mlp.fc"] == ((B, T, d), (B, T, 4 * d))
        assert seen[f"blocks.{i}.mlp.act"] == ((B, T, 4 * d), (B, T, 4 * d))
    assert seen["norm"] == ((B, T, d), (B, T, d))
    assert seen["head"] == ((B, T, d), (B, T, v))
    attn = gpt.get_submodule("blocks.0.attn")
    assert isinstance(attn, CausalSelfAttention)
    q, k, w = attn.split_heads(torch.randn(B, T, d))
    assert q.shape == k.shape == w.shape == (B, SPEC.heads, T, d // SPEC.heads)


def test_flat_logits_put_every_position_in_one_batch() -> None:
    gpt = build_gpt(SPEC, seed=0)
    x = ids()
    flat = FlatLogits(gpt)(x)
    assert flat.shape == (B * T, SPEC.vocab_size)
    assert torch.equal(flat.view(B, T, -1), gpt(x))


def test_scaled_dot_product_attention_equals_the_hand_written_masked_softmax() -> None:
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 3, 7, 4, generator=g, requires_grad=True) for _ in range(3))
    fused = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    oracle = masked_attention(q, k, v)
    torch.testing.assert_close(fused, oracle, rtol=1e-5, atol=1e-6)
    # and their gradients
    g_fused = torch.autograd.grad(fused.square().sum(), (q, k, v))
    g_oracle = torch.autograd.grad(oracle.square().sum(), (q, k, v))
    for a, b in zip(g_fused, g_oracle, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)  # d/dq_0 is 0: noise ~1e-6


def test_the_attention_layer_is_the_oracle_on_its_heads_then_the_projection() -> None:
    attn = CausalSelfAttention(SPEC)
    x = torch.randn(B, T, SPEC.dim, generator=torch.Generator().manual_seed(2))
    q, k, v = attn.split_heads(x)
    by_hand = masked_attention(q, k, v).transpose(1, 2).reshape(B, T, SPEC.dim)
    torch.testing.assert_close(attn(x), attn.proj(by_hand), rtol=1e-5, atol=1e-6)
    # position 0 attends only to itself: its output is its own value, whatever the scores
    torch.testing.assert_close(masked_attention(q, k, v)[:, :, 0], v[:, :, 0])


@pytest.mark.parametrize("changed", [1, 3, T - 1])
def test_changing_a_later_character_changes_no_earlier_prediction(changed: int) -> None:
    gpt = build_gpt(SPEC, seed=0).eval()
    x = ids()
    y = x.clone()
    y[:, changed] = (y[:, changed] + 1) % SPEC.vocab_size
    before, after = gpt(x), gpt(y)
    assert torch.equal(before[:, :changed], after[:, :changed])  # the past cannot see it
    assert not torch.allclose(before[:, changed:], after[:, changed:])  # from there on it does


def test_without_the_mask_the_past_would_see_the_future() -> None:
    """The causality test can fail: plain attention lets position 0 see a later change."""
    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(1, 1, 4, 2, generator=g) for _ in range(3))
    k2, v2 = k.clone(), v.clone()
    k2[..., 3, :] += 1.0
    v2[..., 3, :] += 1.0
    plain = F.scaled_dot_product_attention(q, k, v)[..., 0, :]
    plain2 = F.scaled_dot_product_attention(q, k2, v2)[..., 0, :]
    assert not torch.allclose(plain, plain2)
    assert torch.equal(masked_attention(q, k, v)[..., 0, :], masked_attention(q, k2, v2)[..., 0, :])


def test_the_output_head_and_the_token_embedding_are_one_tensor() -> None:
    gpt = build_gpt(SPEC, seed=0)
    assert gpt.head.weight is gpt.tokens.weight
    params = list(gpt.parameters())
    assert sum(p is gpt.tokens.weight for p in params) == 1  # counted once
    separate = sum(p.numel() for p in params) + SPEC.vocab_size * SPEC.dim
    untied = sum(p.numel() for m in gpt.modules() for p in m.parameters(recurse=False))
    assert gpt.parameter_count() == separate - SPEC.vocab_size * SPEC.dim
    assert untied == separate  # module by module, the shared tensor appears twice
    # both uses add their gradient into the one tensor: it is the sum of the gradients an
    # untied twin (same values, two tensors) gets in its embedding and in its head
    x = ids()
    gpt(x).square().sum().backward()
    twin = build_gpt(SPEC)
    twin.load_state_dict(gpt.state_dict())
    twin.head.weight = nn.Parameter(gpt.tokens.weight.detach().clone())
    twin(x).square().sum().backward()
    assert gpt.tokens.weight.grad is not None and twin.tokens.weight.grad is not None
    assert twin.head.weight.grad is not None
    torch.testing.assert_close(
        gpt.tokens.weight.grad, twin.tokens.weight.grad + twin.head.weight.grad
    )
    assert float(twin.tokens.weight.grad.abs().sum()) > 0  # both shares are there
    # and a saved model loads back tied
    again = build_gpt(SPEC)
    again.load_state_dict(gpt.state_dict())
    assert again.head.weight is again.tokens.weight
    assert torch.equal(again.tokens.weight, gpt.tokens.weight)


@pytest.mark.parametrize("vocab", [11, 104])
def test_the_loss_at_initialization_is_about_ln_vocab(vocab: int) -> None:
    spec = GPTSpec(vocab_size=vocab, context=32, layers=2, heads=2, dim=32)
    gpt = build_gpt(spec, seed=0)
    x = ids(16, 32, vocab, seed=1)
    y = ids(16, 32, vocab, seed=2)
    loss = F.cross_entropy(gpt(x).reshape(-1, vocab), y.reshape(-1))
    assert abs(loss.item() - math.log(vocab)) < 0.05
    # with embeddings of scale 1 it would not start there: the small init makes it ln V
    with torch.no_grad():
        gpt.tokens.weight.normal_(0.0, 1.0)
    worse = F.cross_entropy(gpt(x).reshape(-1, vocab), y.reshape(-1))
    assert worse.item() > math.log(vocab) + 0.5


def test_initial_weights_follow_gpt2() -> None:
    spec = GPTSpec(vocab_size=50, context=64, layers=4, heads=4, dim=128)
    gpt = build_gpt(spec, seed=0)
    residual = INIT_STD / math.sqrt(2 * spec.layers)
    for name, p in gpt.named_parameters():
        if p.ndim < 2:
            assert torch.equal(p, torch.ones_like(p)), name  # layer norms start as identity
        elif name.endswith("proj.weight"):
            assert abs(float(p.detach().std()) - residual) < 0.1 * residual, name
        else:
            assert abs(float(p.detach().std()) - INIT_STD) < 0.1 * INIT_STD, name
    assert torch.equal(build_gpt(spec, seed=0).tokens.weight, gpt.tokens.weight)
    state = torch.get_rng_state()
    build_gpt(spec, seed=1)
    assert torch.equal(torch.get_rng_state(), state)  # the global generator is left alone


def test_shape_errors_say_what_to_do() -> None:
    gpt = build_gpt(SPEC, seed=0)
    with pytest.raises(ShapeError, match=r"at most 8 characters .* keep the last 8"):
        gpt(ids(1, 9))
    with pytest.raises(ShapeError, match=r"shape \(batch, time\) and dtype long"):
        gpt(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ShapeError, match="dtype long, got"):
        gpt(torch.zeros(1, 4))
    with pytest.raises(ShapeError, match="dim 30 does not split into 4 heads"):
        GPTSpec(vocab_size=5, dim=30, heads=4)


def test_an_untrained_tied_model_already_guesses_that_the_input_character_repeats() -> None:
    """Why the default run starts below ln V (4.51 < 4.64 on CPython's help text, where 23% of
    characters repeat the one before): with the head tied to the embedding, an untrained
    model's logit for its input character is that embedding's square norm after the layer
    norm, larger than the others'. An untied head has no such preference."""
    spec = GPTSpec(vocab_size=104, context=32, layers=2, heads=2, dim=128)
    tied = build_gpt(spec, seed=0)
    untied = build_gpt(spec, seed=0)
    untied.head.weight = nn.Parameter(torch.randn(104, 128) * INIT_STD)
    x = ids(16, 32, 104, seed=1)
    repeat = x.reshape(-1)  # every target is the input character again
    with torch.no_grad():
        tied_loss = F.cross_entropy(tied(x).reshape(-1, 104), repeat).item()
        untied_loss = F.cross_entropy(untied(x).reshape(-1, 104), repeat).item()
        predicted = tied(x).argmax(dim=-1)
    assert tied_loss < math.log(104) - 0.5
    assert abs(untied_loss - math.log(104)) < 0.1
    assert float((predicted == x).float().mean()) > 0.9
