"""Question cleaning: control characters, surrogates, white space, limits."""

from __future__ import annotations

import pytest

from qa.errors import EmptyQuestionError, QuestionTooLongError
from qa.questions import (
    InvalidQuestionError,
    answer_fits_question,
    clean_question,
    question_overlap,
    reading_question,
)


def test_whitespace_and_controls_are_normalised():
    assert clean_question("  How\tmany\x00 missiles?\u200b ") == "How many missiles?"


def test_lone_surrogates_do_not_crash():
    assert "missiles" in clean_question("missiles \ud800 sold?")


def test_limits():
    assert clean_question("a" * 1000)
    with pytest.raises(QuestionTooLongError, match="1,000"):
        clean_question("a" * 1001)
    with pytest.raises(EmptyQuestionError, match="empty"):
        clean_question("\x00\x01 ")
    with pytest.raises(EmptyQuestionError, match="no words") as emoji_only:
        clean_question("🙂🙂 ?!")
    assert "empty" not in str(emoji_only.value)
    with pytest.raises(InvalidQuestionError):
        clean_question(b"bytes")


@pytest.mark.parametrize(
    "answer", ["5,000", "$700 million", "about 450 missiles", "twice", "several hundred", "(75)", "1990s", "none"]
)
def test_how_many_questions_accept_quantities(answer):
    assert answer_fits_question("How many Hellfire missiles were sold to Iraq?", answer)


@pytest.mark.parametrize("answer", ["F-16", "Ahmet Davutoglu", "B-52", "M1A1 Abrams", "Baghdad"])
def test_how_many_questions_refuse_answers_without_a_quantity(answer):
    assert not answer_fits_question("how MANY jets were delivered?", answer)
    assert answer_fits_question("Which jets were delivered?", answer)


@pytest.mark.parametrize(
    ("question", "read"),
    [
        ("How many were killed, per the June 2014 piece?", "How many were killed?"),
        ("Who leads it, according to the report on the Obama–Maliki talks?", "Who leads it?"),
        ("Which country is blamed for arming them, in the 2006 report?", "Which country is blamed for arming them?"),
        ("What did Iraq buy per the missile-sales article, and when?", "What did Iraq buy, and when?"),
        # A clause the answer lies in, a person quoted, or too little left: the question stays as asked.
        ("What did the report say about oil?", "What did the report say about oil?"),
        ("Which country is named in the report on the talks?", "Which country is named in the report on the talks?"),
        ("Why, per Kirby, was the Pentagon slow?", "Why, per Kirby, was the Pentagon slow?"),
        ("What is in the story?", "What is in the story?"),
        ("Who, per the report?", "Who, per the report?"),
    ],
)
def test_the_reader_reads_the_question_without_a_clause_naming_the_article(question, read):
    assert reading_question(question) == read


def test_question_overlap_counts_the_questions_content_words_a_text_holds():
    question = "How many Hellfire missiles were sold to Iraq?"  # content: hellfire, missiles, sold, iraq
    assert question_overlap(question, "Iraq bought 5,000 Hellfire missiles.") == 0.75  # "sold" is missing
    assert question_overlap(question, "The missile deal with IRAQ") == 0.5  # stems and case do not matter
    assert question_overlap(question, "Nothing of the kind.") == 0.0
    assert question_overlap("Who was it?", "anything") == 1.0  # no content word to miss
