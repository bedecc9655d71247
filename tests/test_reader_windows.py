"""The reader's window decoding without a trained model: crafted logits for ``decode_windows`` and a
fake model behind the real tokenizer for ``ReaderModel.read_many`` (header skip, overlapping windows,
offsets back in the passage, one result list per item)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import qa.reader as reader_module
from qa.reader import ReaderModel
from qa.span_decoding import WindowLogits, decode_windows
from tests.conftest import READER_DIR

HEADER = "Title line\n"
PASSAGE = "Alpha beta gamma delta"


def _window(
    tokens: list[tuple[str, int | None]],
    text: str,
    starts: dict[str, float],
    ends: dict[str, float],
    *,
    null: float = 0.0,
) -> WindowLogits:
    """A window over ``text`` whose tokens are words: (word, sequence id); [CLS] first, logits by word."""
    offsets: list[tuple[int, int]] = [(0, 0)]
    sequence_ids: list[int | None] = [None]
    start_logits, end_logits = [null / 2], [null / 2]
    position = 0
    for word, sequence in tokens:
        if sequence == 1:
            position = text.index(word, position)
            offsets.append((position, position + len(word)))
            position += len(word)
        else:
            offsets.append((0, len(word)))
        sequence_ids.append(sequence)
        start_logits.append(starts.get(word, -5.0))
        end_logits.append(ends.get(word, -5.0))
    return WindowLogits(0, offsets, sequence_ids, np.array(start_logits), np.array(end_logits))


def test_no_span_starts_in_the_header_and_offsets_are_in_the_passage():
    text = HEADER + PASSAGE
    window = _window(
        [("what", 0), ("Title", 1), ("line", 1), ("Alpha", 1), ("beta", 1)],
        text,
        starts={"Title": 9.0, "beta": 2.0, "what": 9.0},
        ends={"line": 9.0, "beta": 2.0, "what": 9.0},
    )
    (candidates,) = decode_windows([window], [PASSAGE], [len(HEADER)], max_answer_tokens=5, n_best=5)
    assert candidates, "a span in the passage must survive"
    assert all(PASSAGE[c.start : c.end] == c.text for c in candidates)
    assert candidates[0].text == "beta" and candidates[0].score == pytest.approx(4.0)
    assert not any("Title" in c.text or "line" in c.text or "what" in c.text for c in candidates)


def test_overlapping_windows_keep_a_spans_best_score_and_the_lowest_null():
    first = _window(
        [("Alpha", 1), ("beta", 1), ("gamma", 1)], PASSAGE, starts={"beta": 1.0}, ends={"beta": 1.0}, null=3.0
    )
    second = _window(
        [("beta", 1), ("gamma", 1), ("delta", 1)],
        PASSAGE,
        starts={"beta": 4.0, "delta": 0.5},
        ends={"beta": 4.0, "delta": 0.5},
        null=-1.0,
    )
    (candidates,) = decode_windows([first, second], [PASSAGE], [0], max_answer_tokens=1, n_best=2)
    assert [c.text for c in candidates] == ["beta", "delta"]
    assert candidates[0].score == pytest.approx(8.0)
    assert [c.null_score for c in candidates] == [pytest.approx(-1.0)] * 2
    assert len(candidates) == 2  # n_best per passage


class _ModelPreferring:
    """Stands in for the QA model: start logit high on one token id, end logit high on another."""

    def __init__(self, start_id: int, end_id: int, vocab_size: int) -> None:
        self.start_id, self.end_id = start_id, end_id
        # A BERT reader's config: two segment embeddings, so the reader passes token_type_ids.
        self.config = SimpleNamespace(vocab_size=vocab_size, type_vocab_size=2)

    def __call__(self, *, input_ids, token_type_ids, attention_mask):
        import torch

        start = torch.where(input_ids == self.start_id, 6.0, 0.0) + (attention_mask - 1) * 1e4
        end = torch.where(input_ids == self.end_id, 6.0, 0.0) + (attention_mask - 1) * 1e4
        return SimpleNamespace(start_logits=start, end_logits=end)


@pytest.fixture
def fake_reader(monkeypatch):
    tokenizer = reader_module._load_tokenizer(str(READER_DIR))
    model = _ModelPreferring(
        tokenizer.token_to_id("5"), tokenizer.token_to_id("000"), tokenizer.get_vocab_size(with_added_tokens=True)
    )
    monkeypatch.setattr(reader_module, "_load_model", lambda *args: model)
    return ReaderModel(READER_DIR, backend="fp32", max_length=48, stride=16, max_question_tokens=12)


def test_read_many_maps_spans_back_to_each_items_passages(fake_reader):
    passages = ["Nothing to see here at all.", "The deal covers 5,000 missiles for Iraq."]
    long_passage = " ".join(["filler words keep going"] * 12) + " and then 5,000 more arrived."
    results = fake_reader.read_many(
        [
            ("How many missiles?", passages, ["Sold 5,000 (2014)", ""]),
            ("How many arrived?", [long_passage]),
            ("   ", ["5,000 ignored"]),
        ]
    )
    assert len(results) == 3 and results[2] == []
    best = results[0][0]
    assert (best.passage_index, best.text) == (1, "5,000")
    assert passages[1][best.start : best.end] == "5,000"  # offsets in the passage, not in the header
    assert all(c.passage_index in (0, 1) for c in results[0])
    late = results[1][0]
    assert late.text == "5,000" and long_passage[late.start : late.end] == "5,000"  # found in a later window
    assert results[0] == sorted(results[0], key=lambda c: (-c.score, c.passage_index, c.start))


def test_read_refuses_a_header_count_that_does_not_match(fake_reader):
    with pytest.raises(ValueError, match="one header per passage"):
        fake_reader.read("How many?", ["a", "b"], headers=["only one"])


def test_pair_windows_match_the_transformers_tokenizer():
    """The reader tokenises with ``tokenizers`` alone (no transformers on the query path); its windows must
    be the ones transformers' fast tokenizer makes with ``truncation="only_second"`` and overflow."""
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(READER_DIR, local_files_only=True)
    questions = ["How many missiles?", "Who won the 2014 World Cup in Brazil, and by how much?"]
    passages = [
        "Sold 5,000 (2014)\nThe deal covers 5,000 missiles for Iraq.",
        " ".join(f"Paragraph word{i} – “quoted” café \\$700 million" for i in range(40)),
    ]
    expected = reference(
        questions,
        passages,
        truncation="only_second",
        max_length=48,
        stride=16,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )
    encodings = reader_module._pair_tokenizer(str(READER_DIR), 48, 16).encode_batch(
        list(zip(questions, passages, strict=True))
    )
    windows = [(p, w) for p, e in enumerate(encodings) for w in [e, *e.overflowing]]
    assert len(windows) == len(expected["input_ids"]) > 2
    for i, (p, window) in enumerate(windows):
        assert window.ids == expected["input_ids"][i]
        assert window.type_ids == expected["token_type_ids"][i]
        assert [tuple(o) for o in window.offsets] == [tuple(o) for o in expected["offset_mapping"][i]]
        assert window.sequence_ids == expected.sequence_ids(i)
        assert p == expected["overflow_to_sample_mapping"][i]
