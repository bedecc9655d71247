"""Turn start/end logits of one window into ranked answer spans (pure numpy, no model).

Span score = start_logit + end_logit, the same quantity for every window and passage, so spans from
different passages can be compared directly; the no-answer score is the same sum at the [CLS] position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
    return [
        TokenSpan(int(top_starts[pair_rows[i]]), int(top_ends[pair_cols[i]]), float(pair_scores[i]))
        for i in order
    ]


def null_score(start_logits: np.ndarray, end_logits: np.ndarray, *, cls_index: int = 0) -> float:
    """Return the no-answer score of one window: start + end logit at the [CLS] token."""
    return float(start_logits[cls_index]) + float(end_logits[cls_index])
