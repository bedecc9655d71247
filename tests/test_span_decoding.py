"""Span decoding on crafted logits: end >= start, maximum length, n-best order, no-answer score."""

from __future__ import annotations

import numpy as np
import pytest

from qa.span_decoding import best_token_spans, null_score


def _logits(n, **peaks):
    values = np.full(n, -10.0)
    for index, value in peaks.items():
        values[int(index[1:])] = value
    return values


def test_end_before_start_is_never_chosen():
    # The best end (2) lies before the best start (5): the decoder must not pair them.
    start = _logits(10, t5=9.0, t1=5.0)
    end = _logits(10, t2=9.0, t6=4.0)
    mask = np.ones(10, dtype=bool)
    mask[0] = False
    spans = best_token_spans(start, end, mask, max_answer_tokens=30, n_best=5)
    assert all(s.end_token >= s.start_token for s in spans)
    assert (spans[0].start_token, spans[0].end_token) == (1, 2)


def test_maximum_answer_length_is_enforced():
    start = _logits(50, t3=9.0, t20=1.0)
    end = _logits(50, t40=9.0, t21=1.0)
    mask = np.ones(50, dtype=bool)
    spans = best_token_spans(start, end, mask, max_answer_tokens=10, n_best=3)
    assert spans and all(s.end_token - s.start_token + 1 <= 10 for s in spans)
    assert (spans[0].start_token, spans[0].end_token) == (20, 21)


def test_tokens_outside_the_context_are_excluded():
    start = _logits(8, t0=20.0, t1=15.0, t5=3.0)
    end = _logits(8, t0=20.0, t1=15.0, t6=3.0)
    mask = np.array([False, False, False, True, True, True, True, False])
    spans = best_token_spans(start, end, mask, max_answer_tokens=30, n_best=2)
    assert all(mask[s.start_token] and mask[s.end_token] for s in spans)
    assert (spans[0].start_token, spans[0].end_token) == (5, 6)


def test_scores_are_logit_sums_best_first():
    start = _logits(6, t1=3.0, t2=2.0)
    end = _logits(6, t3=4.0, t4=1.0)
    spans = best_token_spans(start, end, np.ones(6, dtype=bool), max_answer_tokens=30, n_best=4)
    assert spans[0].score == pytest.approx(7.0)
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)


def test_null_score_is_cls_sum_and_can_win():
    start = _logits(6, t0=8.0, t2=2.0)
    end = _logits(6, t0=8.0, t3=2.0)
    mask = np.array([False, True, True, True, True, False])
    best = best_token_spans(start, end, mask, max_answer_tokens=30, n_best=1)[0]
    assert null_score(start, end) == pytest.approx(16.0)
    assert null_score(start, end) > best.score  # the pipeline abstains on this window


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="1-D arrays of one length"):
        best_token_spans(np.zeros(3), np.zeros(4), np.ones(3, dtype=bool), max_answer_tokens=5, n_best=1)
    with pytest.raises(ValueError, match="must be positive"):
        best_token_spans(np.zeros(3), np.zeros(3), np.ones(3, dtype=bool), max_answer_tokens=0, n_best=1)


def test_empty_context_gives_no_span():
    assert best_token_spans(np.zeros(4), np.zeros(4), np.zeros(4, dtype=bool), max_answer_tokens=5, n_best=3) == []
