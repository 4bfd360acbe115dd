"""Text data: the corpus, the vocabulary and its unknown symbol, the entropies (against scipy and
scikit-learn), random windows with exact mid-epoch resume, and the held-out blocks."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import entropy  # type: ignore[import-untyped]
from sklearn.metrics import mutual_info_score

from looplab.data.text import (
    UNKNOWN,
    Blocks,
    RandomWindows,
    Vocabulary,
    bigram_entropy,
    load_corpus,
    split_text,
    unigram_entropy,
)
from looplab.errors import DataError


def test_pydoc_is_cpythons_help_text_sorted_by_topic() -> None:
    from pydoc_data.topics import topics

    corpus = load_corpus("pydoc")
    assert corpus.text.startswith(topics[sorted(topics)[0]])
    assert corpus.text.endswith(topics[sorted(topics)[-1]])
    assert len(corpus.text) == sum(map(len, topics.values())) + 2 * (len(topics) - 1)
    assert len(corpus.text) > 300_000 and "help text" in corpus.description


def test_a_file_corpus_and_what_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text("héllo wörld\n", encoding="utf-8")
    assert load_corpus(str(tmp_path / "t.txt")).text == "héllo wörld\n"
    with pytest.raises(DataError, match="does not exist; give pydoc"):
        load_corpus(str(tmp_path / "nope.txt"))
    with pytest.raises(DataError, match="is a directory"):
        load_corpus(str(tmp_path))
    (tmp_path / "latin.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        load_corpus(str(tmp_path / "latin.txt"))


def test_split_keeps_the_end_for_validation() -> None:
    train, val = split_text("abcdefghij", 0.2)
    assert (train, val) == ("abcdefgh", "ij")


def test_vocabulary_round_trip_and_unknown_characters() -> None:
    vocab = Vocabulary("hello world")
    assert vocab.chars == " dehlorw" and len(vocab) == 9  # 8 characters + the unknown symbol
    ids = vocab.encode("hello world")
    assert ids.dtype == torch.long and int(ids.min()) >= 1
    assert vocab.decode(ids) == "hello world"
    assert vocab.encode("hex!").tolist() == [vocab.ids["h"], vocab.ids["e"], 0, 0]
    assert vocab.decode(vocab.encode("hex!")) == f"he{UNKNOWN}{UNKNOWN}"
    assert vocab.unknown("hex! x") == "x!"
    assert vocab.decode([0, 99]) == UNKNOWN * 2  # outside the vocabulary: shown the same way


def test_entropies_of_texts_with_known_answers() -> None:
    vocab = Vocabulary("ab")
    alternating = vocab.encode("ab" * 500)
    assert unigram_entropy(alternating, len(vocab)) == pytest.approx(math.log(2))
    assert bigram_entropy(alternating, len(vocab)) == pytest.approx(0.0, abs=1e-12)
    constant = Vocabulary("a").encode("a" * 100)
    assert unigram_entropy(constant, 2) == 0.0 and bigram_entropy(constant, 2) == 0.0


def test_entropies_equal_scipy_and_scikit_learn_on_a_real_text() -> None:
    text = load_corpus("pydoc").text[:50_000]
    vocab = Vocabulary(text)
    ids = vocab.encode(text)
    v = len(vocab)
    counts = np.bincount(ids.numpy(), minlength=v)
    assert unigram_entropy(ids, v) == pytest.approx(entropy(counts), rel=1e-12)
    # H(X_t | X_{t-1}) = H(X_t) - I(X_{t-1}; X_t), X_t over the second character of each pair
    prev, nxt = ids[:-1].numpy(), ids[1:].numpy()
    expected = entropy(np.bincount(nxt, minlength=v)) - mutual_info_score(prev, nxt)
    assert bigram_entropy(ids, v) == pytest.approx(expected, rel=1e-9)
    assert bigram_entropy(ids, v) < unigram_entropy(ids, v) < math.log(v)


def test_a_random_text_has_the_entropy_of_its_alphabet() -> None:
    rng = random.Random(0)
    text = "".join(rng.choice("abcd") for _ in range(40_000))
    vocab = Vocabulary(text)
    ids = vocab.encode(text)
    assert unigram_entropy(ids, len(vocab)) == pytest.approx(math.log(4), abs=0.002)
    assert bigram_entropy(ids, len(vocab)) == pytest.approx(math.log(4), abs=0.002)


TEXT = torch.arange(200) % 37  # (200,) ids whose windows are easy to check


def windows(seed: int = 0, batches: int = 5) -> RandomWindows:
    return RandomWindows(TEXT, 8, 4, batches, torch.Generator().manual_seed(seed))


def test_windows_are_text_and_targets_are_the_next_characters() -> None:
    source = windows()
    assert len(source) == 5
    batches = list(source.epoch())
    assert len(batches) == 5
    for x, y in batches:
        assert x.shape == (4, 8) and y.shape == (32,)
        for row, targets in zip(x, y.view(4, 8), strict=True):
            start = int(row[0])  # TEXT is 0..36 repeating: a window is consecutive values
            assert torch.equal(row, (torch.arange(start, start + 8) % 37))
            assert torch.equal(targets, (torch.arange(start + 1, start + 9) % 37))
    offsets = {int(x[i, 0]) for x, _ in batches for i in range(4)}
    assert len(offsets) > 5  # random offsets, not one window repeated


def test_the_same_seed_draws_the_same_windows_and_epochs_differ() -> None:
    a, b = windows(), windows()
    first = [x for x, _ in a.epoch()]
    assert all(torch.equal(p, q) for p, q in zip(first, [x for x, _ in b.epoch()], strict=True))
    second = [x for x, _ in a.epoch()]
    assert not all(torch.equal(p, q) for p, q in zip(first, second, strict=True))


@pytest.mark.parametrize("done", [1, 2, 4])
def test_resume_mid_epoch_draws_the_rest_of_the_same_epoch(done: int) -> None:
    reference = windows()
    whole = [x for x, _ in reference.epoch()] + [x for x, _ in reference.epoch()]
    interrupted = windows()
    it = interrupted.epoch()
    for _ in range(done):
        next(it)
    state = interrupted.state_dict()  # what a checkpoint keeps
    resumed = windows(seed=123)  # another seed: the state must bring everything back
    resumed.load_state_dict(state, mid_epoch=True)
    rest = [x for x, _ in resumed.epoch(skip=done)] + [x for x, _ in resumed.epoch()]
    assert len(rest) == len(whole) - done
    assert all(torch.equal(p, q) for p, q in zip(rest, whole[done:], strict=True))


def test_resume_between_epochs_draws_the_next_epoch() -> None:
    reference = windows()
    list(reference.epoch())
    second = [x for x, _ in reference.epoch()]
    interrupted = windows()
    list(interrupted.epoch())
    resumed = windows(seed=123)
    resumed.load_state_dict(interrupted.state_dict(), mid_epoch=False)
    again = [x for x, _ in resumed.epoch()]
    assert all(torch.equal(p, q) for p, q in zip(again, second, strict=True))


def test_blocks_predict_every_held_out_character_once() -> None:
    ids = torch.arange(30)
    blocks = Blocks(ids, context=4, batch_size=3)  # 29 targets: 7 windows of 4, one left out
    assert blocks.characters == 28 and len(blocks) == 3
    xs, ys = zip(*blocks.epoch(), strict=True)
    assert torch.equal(torch.cat(xs).reshape(-1), ids[:28])
    assert torch.equal(torch.cat(ys), ids[1:29])
    assert [len(x) for x in xs] == [3, 3, 1]
    again = [x for x, _ in blocks.epoch()]
    assert all(torch.equal(p, q) for p, q in zip(xs, again, strict=True))


def test_texts_shorter_than_a_window_are_refused() -> None:
    with pytest.raises(DataError, match="fewer than one window of 9"):
        RandomWindows(torch.arange(8), 8, 2, 1, torch.Generator())
    with pytest.raises(DataError, match="raise --val-fraction or lower --context"):
        Blocks(torch.arange(8), 8, 2)
