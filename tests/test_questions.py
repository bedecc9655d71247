"""Question cleaning: control characters, surrogates, white space, limits."""

from __future__ import annotations

import pytest

from qa.errors import EmptyQuestionError, QuestionTooLongError
from qa.questions import InvalidQuestionError, clean_question


def test_whitespace_and_controls_are_normalised():
    assert clean_question("  How\tmany\x00 missiles?\u200b ") == "How many missiles?"


def test_lone_surrogates_do_not_crash():
    assert "missiles" in clean_question("missiles \ud800 sold?")


def test_limits():
    assert clean_question("a" * 1000)
    with pytest.raises(QuestionTooLongError, match="1,000"):
        clean_question("a" * 1001)
    with pytest.raises(EmptyQuestionError):
        clean_question("\x00\x01 ")
    with pytest.raises(InvalidQuestionError):
        clean_question(b"bytes")
