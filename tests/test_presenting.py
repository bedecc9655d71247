"""Confidence in words and the dated timeline of differing answers."""

from __future__ import annotations

import pytest

from qa.presenting import answer_timeline, confidence_words
from qa.types import Answer, Citation


@pytest.mark.parametrize(
    ("score", "words"),
    [(0.99, "very likely"), (0.85, "very likely"), (0.84, "likely"), (0.65, "likely"), (0.4, "unsure")],
)
def test_confidence_words_follow_the_probability(score, words):
    assert confidence_words(score) == words


def _answer(text: str, date: str | None, score: float) -> Answer:
    citation = Citation(
        doc_id=f"{text}.txt",
        title=text,
        date=date,
        passage=text,
        start=0,
        end=len(text),
        chunk_id=text,
        paragraph=1,
        doc_start=0,
    )
    return Answer(text=text, score=score, citations=(citation,))


def test_timeline_orders_by_date_with_undated_last():
    top = _answer("75", "2013-12-27", 0.8)
    others = (_answer("undated", None, 0.6), _answer("5,000", "2014-08-01", 0.7), _answer("780", "2012-01-01", 0.5))
    timeline = answer_timeline(Answer(text="75", score=0.8, citations=top.citations, alternatives=others))
    assert [entry.text for entry in timeline] == ["780", "75", "5,000", "undated"]


def test_no_timeline_for_one_date_or_no_alternatives():
    top = _answer("75", "2013-12-27", 0.8)
    assert answer_timeline(top) == ()
    same_day = Answer(text="75", score=0.8, citations=top.citations, alternatives=(_answer("80", "2013-12-27", 0.5),))
    assert answer_timeline(same_day) == ()
    assert answer_timeline(Answer(text=None, score=0.9)) == ()
