"""Sampling: temperature and top-k against softmax written out, greedy decoding by hand, and
sampling that leaves torch's global generator and the model's mode alone."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from looplab.data.text import Vocabulary
from looplab.errors import ConfigError, RunError
from looplab.experiments.gpt_sampling import (
    generate,
    load_gpt,
    next_char_probabilities,
    sample_text,
    save_gpt,
)
from looplab.models.gpt import GPTSpec, build_gpt

LOGITS = torch.tensor([[2.0, 1.0, 0.5, -1.0, 0.5], [0.0, 3.0, -2.0, 1.0, 2.5]])


def test_temperature_one_and_every_character_is_softmax() -> None:
    torch.testing.assert_close(next_char_probabilities(LOGITS), torch.softmax(LOGITS, dim=-1))


@pytest.mark.parametrize("temperature", [0.25, 0.8, 2.0])
def test_temperature_divides_the_logits(temperature: float) -> None:
    e = torch.exp(LOGITS / temperature)
    expected = e / e.sum(dim=-1, keepdim=True)
    torch.testing.assert_close(next_char_probabilities(LOGITS, temperature), expected)
    # below 1 the likeliest character gains, above 1 it loses
    top = torch.softmax(LOGITS, dim=-1).max(dim=-1).values
    got = next_char_probabilities(LOGITS, temperature).max(dim=-1).values
    assert bool((got > top).all()) if temperature < 1 else bool((got < top).all())


def test_top_k_keeps_the_k_likeliest_renormalized() -> None:
    p = next_char_probabilities(LOGITS, 1.0, top_k=2)
    kept = [[0, 1], [1, 4]]  # the two largest logits of each row
    for row, keep in enumerate(kept):
        e = torch.exp(LOGITS[row, keep])
        expected = torch.zeros(5)
        expected[keep] = e / e.sum()
        torch.testing.assert_close(p[row], expected)
    # a tie at the k-th value keeps both: 0.5 appears twice in row 0
    tied = next_char_probabilities(LOGITS[:1], 1.0, top_k=3)
    assert int((tied > 0).sum()) == 4
    assert torch.equal(next_char_probabilities(LOGITS, top_k=5), next_char_probabilities(LOGITS))


def test_refused_settings() -> None:
    gpt = build_gpt(GPTSpec(5, 4, 1, 1, 4))
    with pytest.raises(ConfigError, match="temperature must be a positive number, got 0"):
        generate(gpt, torch.tensor([1]), 1, temperature=0)
    with pytest.raises(ConfigError, match="top_k must be a whole number >= 0"):
        generate(gpt, torch.tensor([1]), 1, top_k=-1)
    with pytest.raises(ConfigError, match="the prompt is empty"):
        sample_text(gpt, Vocabulary("abcd"), "")


SPEC = GPTSpec(vocab_size=9, context=6, layers=2, heads=2, dim=16)


def test_top_k_one_is_greedy_decoding_written_out() -> None:
    gpt = build_gpt(SPEC, seed=0).eval()
    prompt = torch.tensor([1, 2, 3])
    got = generate(gpt, prompt, 10, top_k=1, generator=torch.Generator().manual_seed(0))
    seq = prompt.tolist()
    with torch.no_grad():
        for _ in range(10):  # the likeliest next character, reading the last `context` ones
            logits = gpt(torch.tensor([seq[-SPEC.context :]]))[0, -1]
            seq.append(int(logits.argmax()))
    assert got.tolist() == seq[3:]


def test_sampling_uses_its_own_generator_and_puts_the_mode_back() -> None:
    gpt = build_gpt(SPEC, seed=0)  # in train mode
    state = torch.get_rng_state()
    a = generate(gpt, torch.tensor([1]), 20, generator=torch.Generator().manual_seed(5))
    b = generate(gpt, torch.tensor([1]), 20, generator=torch.Generator().manual_seed(5))
    c = generate(gpt, torch.tensor([1]), 20, generator=torch.Generator().manual_seed(6))
    assert torch.equal(torch.get_rng_state(), state)
    assert gpt.training
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (20,) and int(a.min()) >= 0 and int(a.max()) < SPEC.vocab_size


def test_a_saved_gpt_loads_back_and_samples_the_same(tmp_path: Path) -> None:
    vocab = Vocabulary("abcdefgh")
    gpt = build_gpt(SPEC, seed=0)
    save_gpt(tmp_path / "model.pt", gpt, vocab)
    saved = load_gpt(tmp_path)
    assert saved.vocab.chars == vocab.chars and not saved.gpt.training
    assert saved.gpt.head.weight is saved.gpt.tokens.weight
    assert sample_text(saved.gpt, saved.vocab, "ab", 30, seed=1) == sample_text(
        gpt, vocab, "ab", 30, seed=1
    )
    with pytest.raises(RunError, match="does not exist"):
        load_gpt(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match=r"has no model\.pt: it is not a finished looplab gpt run"):
        load_gpt(tmp_path / "empty")
    torch.save({"format_version": 1, "spec": {}}, tmp_path / "empty" / "model.pt")
    with pytest.raises(RunError, match="is not a looplab gpt model"):
        load_gpt(tmp_path / "empty")
