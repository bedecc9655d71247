"""Official SQuAD answer normalisation, exact match and token F1 (as in the SQuAD v1.1/v2.0 scripts)."""

from __future__ import annotations

import collections
import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and the articles a/an/the, and collapse white space."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str | None, gold_answers: list[str]) -> float:
    """1.0 if the normalised prediction equals any normalised gold answer, else 0.0.

    With no gold answers the question is unanswerable: correct (1.0) only when ``prediction`` is None
    or empty (the system abstained).
    """
    if not gold_answers:
        return float(not prediction)
    if not prediction:
        return 0.0
    normalized = normalize_answer(prediction)
    return float(any(normalized == normalize_answer(g) for g in gold_answers))


def _token_f1(prediction: str, gold: str) -> float:
    prediction_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not prediction_tokens or not gold_tokens:
        # SQuAD 2.0 rule: two empty answers agree; one empty and one not share nothing.
        return float(prediction_tokens == gold_tokens)
    common = collections.Counter(prediction_tokens) & collections.Counter(gold_tokens)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(prediction_tokens)
    recall = overlap / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str | None, gold_answers: list[str]) -> float:
    """Best token F1 of the prediction against any gold answer; abstention rules as in ``exact_match``."""
    if not gold_answers:
        return float(not prediction)
    if not prediction:
        return 0.0
    return max(_token_f1(prediction, g) for g in gold_answers)
