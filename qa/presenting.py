"""How an answer is put to people: its confidence in words, and differing answers of articles of different
dates as a timeline (the sale announced in August 2014 beside the shipment that arrived in December 2013)."""

from __future__ import annotations

from qa.types import Answer

# ``Answer.score`` is a probability fitted on held-out questions (``models/reader/MODEL_CARD.md``), so the
# words follow what the number means: at 0.85 about 85 of 100 such answers are right.
CONFIDENCE_WORDS = ((0.85, "very likely"), (0.65, "likely"), (0.0, "unsure"))


def confidence_words(score: float) -> str:
    """ "very likely", "likely" or "unsure" for an answer's confidence ``score`` in [0, 1]."""
    for floor, words in CONFIDENCE_WORDS:
        if score >= floor:
            return words
    return CONFIDENCE_WORDS[-1][1]


def answer_timeline(answer: Answer) -> tuple[Answer, ...]:
    """The answer and its alternatives ordered by the date of the article each cites (oldest first, an
    undated article last) when they cite articles of at least two different dates; otherwise empty, since
    a timeline of one date says nothing. Each entry is the ``Answer`` itself (the top one included)."""
    if not answer.found or not answer.alternatives:
        return ()
    entries = (answer, *answer.alternatives)
    dates = {entry.citations[0].date for entry in entries if entry.citations and entry.citations[0].date}
    if len(dates) < 2:
        return ()
    return tuple(
        sorted(
            entries,
            key=lambda entry: (entry.citations[0].date is None, entry.citations[0].date or "", -entry.score),
        )
    )
