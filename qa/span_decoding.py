"""Turn a reader's start/end logits into ranked answer spans (pure numpy, no model).

Span score = start_logit + end_logit, the same quantity for every window and passage, so spans from
different passages can be compared directly; the no-answer score is the same sum at the [CLS] position.
``best_token_spans`` decodes one window; ``decode_windows`` turns all windows of a set of passages
(each perhaps read under a header line) into character spans of the passages.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class SpanCandidate:
    """An answer span in ``passages[passage_index]``: ``passage[start:end] == text``.

    ``score`` is the span's start+end logit; ``null_score`` the passage's no-answer score; ``margin`` their
    difference (positive: the model prefers this span to "no answer"). ``answerability`` is the passage's
    answerability logit (a reader with an answerability head; None otherwise), which ``null_score`` already
    counts (``decode_windows``).
    """

    passage_index: int
    start: int
    end: int
    text: str
    score: float
    null_score: float
    answerability: float | None = None

    @property
    def margin(self) -> float:
        return self.score - self.null_score


@dataclass(frozen=True)
class WindowLogits:
    """One tokenised window of a passage and the model's logits over it.

    ``passage_index`` says which passage the window belongs to; ``offsets[t]`` is token ``t``'s (start,
    end) in the text the model read (header line + passage); ``sequence_ids[t]`` is 1 for tokens of that
    text, 0 for the question and None for special tokens. ``answerable_logit``: the answerability head's
    logit for the window (does it hold the answer?), from a reader that has such a head."""

    passage_index: int
    offsets: Sequence[tuple[int, int]]
    sequence_ids: Sequence[int | None]
    start_logits: np.ndarray
    end_logits: np.ndarray
    answerable_logit: float | None = None


@dataclass(frozen=True)
class TokenSpan:
    """A candidate answer inside one window: token indices (inclusive) and its raw logit score."""

    start_token: int
    end_token: int
    score: float


def best_token_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    context_mask: np.ndarray,
    *,
    max_answer_tokens: int,
    n_best: int,
) -> list[TokenSpan]:
    """Return up to ``n_best`` spans with ``start <= end``, length <= ``max_answer_tokens``, best first.

    Takes 1-D arrays of one window's logits and a boolean ``context_mask`` that is True for tokens of the
    passage (question, special and padding tokens can never be part of an answer). Raises ``ValueError``
    when the arrays disagree in length or ``max_answer_tokens``/``n_best`` is not positive.
    """
    start_logits = np.asarray(start_logits, dtype=np.float64)
    end_logits = np.asarray(end_logits, dtype=np.float64)
    context_mask = np.asarray(context_mask, dtype=bool)
    if not (start_logits.shape == end_logits.shape == context_mask.shape) or start_logits.ndim != 1:
        raise ValueError("start_logits, end_logits and context_mask must be 1-D arrays of one length")
    if max_answer_tokens < 1 or n_best < 1:
        raise ValueError("max_answer_tokens and n_best must be positive")
    positions = np.flatnonzero(context_mask)
    if positions.size == 0:
        return []
    # Only the top candidates for start and end can form a top-n_best pair, so the search stays small.
    k = min(positions.size, max(n_best, 20))
    top_starts = positions[np.argsort(-start_logits[positions], kind="stable")[:k]]
    top_ends = positions[np.argsort(-end_logits[positions], kind="stable")[:k]]
    starts = top_starts[:, None]
    ends = top_ends[None, :]
    valid = (ends >= starts) & (ends - starts + 1 <= max_answer_tokens)
    if not valid.any():
        return []
    scores = start_logits[starts] + end_logits[ends]
    pair_rows, pair_cols = np.nonzero(valid)
    pair_scores = scores[pair_rows, pair_cols]
    order = np.argsort(-pair_scores, kind="stable")[:n_best]
    return [TokenSpan(int(top_starts[pair_rows[i]]), int(top_ends[pair_cols[i]]), float(pair_scores[i])) for i in order]


def null_score(start_logits: np.ndarray, end_logits: np.ndarray, *, cls_index: int = 0) -> float:
    """Return the no-answer score of one window: start + end logit at the [CLS] token."""
    return float(start_logits[cls_index]) + float(end_logits[cls_index])


def decode_windows(
    windows: Sequence[WindowLogits],
    passages: Sequence[str],
    header_lengths: Sequence[int],
    *,
    max_answer_tokens: int,
    n_best: int,
    answerability_weight: float = 0.0,
) -> list[list[SpanCandidate]]:
    """Candidate spans of each passage, best first, at most ``n_best`` per passage.

    A passage was read as ``header_lengths[i]`` characters of header line followed by ``passages[i]``; no
    span may start in the header and offsets are returned in the passage. A span seen by two overlapping
    windows keeps its best score; every candidate of a passage carries the passage's no-answer score, the
    lowest over its windows (as the SQuAD 2.0 reference decoders do). When the windows carry answerability
    logits, the passage's answerability is the highest of them, and the no-answer score is lowered by
    ``answerability_weight`` times it: two signals, the span head's and the answerability head's, decide
    together (the weight is calibrated with the threshold). Blank spans are dropped.
    """
    null: dict[int, float] = {}
    answerable: dict[int, float] = {}
    spans: dict[tuple[int, int, int], float] = {}
    for window in windows:
        if window.answerable_logit is not None:
            index = window.passage_index
            answerable[index] = max(answerable.get(index, -math.inf), float(window.answerable_logit))
        skip = header_lengths[window.passage_index]
        context_mask = np.array(
            [s == 1 and window.offsets[t][0] >= skip for t, s in enumerate(window.sequence_ids)], dtype=bool
        )
        window_null = null_score(window.start_logits, window.end_logits)
        null[window.passage_index] = min(null.get(window.passage_index, math.inf), window_null)
        for span in best_token_spans(
            window.start_logits, window.end_logits, context_mask, max_answer_tokens=max_answer_tokens, n_best=n_best
        ):
            key = (
                window.passage_index,
                window.offsets[span.start_token][0] - skip,
                window.offsets[span.end_token][1] - skip,
            )
            spans[key] = max(spans.get(key, -math.inf), span.score)
    per_passage: list[list[SpanCandidate]] = [[] for _ in passages]
    for (index, start, end), score in spans.items():
        text = passages[index][start:end]
        if text.strip():
            answerability = answerable.get(index)
            null_here = null[index] - answerability_weight * (answerability or 0.0)
            per_passage[index].append(
                SpanCandidate(
                    passage_index=index,
                    start=start,
                    end=end,
                    text=text,
                    score=score,
                    null_score=null_here,
                    answerability=answerability,
                )
            )
    for candidates in per_passage:
        candidates.sort(key=lambda c: (-c.score, c.start))
        del candidates[n_best:]
    return per_passage
