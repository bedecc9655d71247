"""Validation and normalisation of user questions before they reach retrieval or the reader."""

from __future__ import annotations

import functools
import re
import unicodedata

from embeddings.documents import MONTHS
from qa.errors import MAX_QUESTION_CHARS, EmptyQuestionError, InvalidQuestionError, QuestionTooLongError

_SPACE = re.compile(r"\s+")


def clean_question(question: object, *, max_chars: int = MAX_QUESTION_CHARS) -> str:
    """Return the question NFC-normalised, without control/format characters or lone surrogates, with
    white space collapsed.

    Raises ``InvalidQuestionError`` for a non-string, ``EmptyQuestionError`` when nothing readable is left
    (the message tells an empty question from one of symbols or emoji only),
    ``QuestionTooLongError`` when it is longer than ``max_chars`` characters.
    """
    if not isinstance(question, str):
        raise InvalidQuestionError(f"A question must be text, not {type(question).__name__}.")
    # Lone surrogates cannot be encoded (and crash tokenisers): replace them before anything else.
    text = question.encode("utf-8", "replace").decode("utf-8") if _has_surrogate(question) else question
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") else ch for ch in text)
    text = _SPACE.sub(" ", text).strip()
    if len(text) > max_chars:
        raise QuestionTooLongError(
            f"The question is {len(text):,} characters long; the limit is {max_chars:,}. Ask something shorter."
        )
    if not text:
        raise EmptyQuestionError(
            "The question is empty. Type a question, e.g. 'How many Hellfire missiles were sold to Iraq?'"
        )
    if not any(ch.isalnum() for ch in text):
        raise EmptyQuestionError(
            "The question has no words in it, only symbols or emoji. Ask in words, e.g. 'How many Hellfire "
            "missiles were sold to Iraq?'"
        )
    return text


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


_HOW_MANY = re.compile(r"\bhow many\b", re.IGNORECASE)
# What a "how many" answer looks like: a number (not the digits of a name such as "F-16"), a number word,
# or a quantity word ("several", "all", "twice"). On SQuAD 1.1 train, 99.7% of the 5,098 "how many"
# answers match (``python bench/answer_types.py``).
_QUANTITY = re.compile(
    r"(?<![\w-])\d|\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|"
    r"thousands?|millions?|billions?|trillions?|dozens?|scores?|several|few|many|much|more|most|less|fewer|"
    r"half|quarter|third|single|both|none|no|nil|a|an|once|twice|thrice|all|every|each|never|numerous|"
    r"multiple|various|some|any|couple|handful|majority|minority|percent)\b",
    re.IGNORECASE,
)


def asks_how_many(question: str) -> bool:
    """True for a "how many" question, whose answer must be a quantity."""
    return bool(_HOW_MANY.search(question))


def answer_fits_question(question: str, answer: str) -> bool:
    """False when the answer cannot be what the question asks for: a "how many" question answered
    without any quantity ("How many Apache helicopters...?" -> "F-16"). Every other answer fits."""
    if asks_how_many(question):
        return bool(_QUANTITY.search(answer))
    return True


_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")
_MONTH_NAMES = re.compile(r"\b(" + "|".join(MONTHS) + r")\b", re.IGNORECASE)


def question_dates(question: str) -> tuple[set[int], set[int]]:
    """The years and month numbers a question names: "in December 2013" gives ({2013}, {12})."""
    years = {int(y) for y in _YEAR.findall(question)}
    months = {MONTHS.index(name.capitalize()) + 1 for name in _MONTH_NAMES.findall(question)}
    return years, months


# A clause that points at the article rather than into it ("..., per the June 2014 piece?", "according to the
# report on the talks"): the passage never says it, so a reader trained on SQuAD reads it as a mismatch and
# lowers its margin. Dates in it still count (``question_dates``); retrieval still sees the whole question.
_SOURCE_CLAUSE = re.compile(
    r"(?:,\s*(?:according\s+to|per|in|from)|\s+(?:according\s+to|per))\s+(?:the|a|an|its|this|that)\s+"
    r"(?:[^,?;]{0,60}?\s)?(?:report|reports|article|piece|story|dispatch|item|write-?up|coverage)"
    r"(?:\s+(?:on|about|of)\s+[^,?;]{1,60}?)?(?=\s*[?,;]|\s*$)",
    re.IGNORECASE,
)


def reading_question(question: str) -> str:
    """The question as the reader reads it: without a clause that names the article it asks about
    ("..., per the December 2013 report?"); the question itself when fewer than three words would be left."""
    stripped = re.sub(r"\s+([?,;])", r"\1", _SPACE.sub(" ", _SOURCE_CLAUSE.sub("", question)).strip())
    return stripped if len(re.findall(r"\w+", stripped)) >= 3 else question


# Words that carry no content of their own in a question: the question words, auxiliaries, articles,
# prepositions, pronouns (``question_overlap`` leaves them out).
_FUNCTION_WORDS = frozenset(
    """a about after against all also an and any are as at be because been before being between both but by
    can could did do does doing during each else ever for from had has have having he her hers him his how i
    if in into is it its itself many may me might more most much must my no nor not of off on once only or
    other our out over own per same shall she should so some such than that the their theirs them then there
    these they this those through to too under until up upon very was we were what whatever when where which
    while who whom whose why will with within without would you your""".split()
)
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


@functools.lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # PyStemmer (Snowball), as BM25 retrieval stems

    return Stemmer.Stemmer("english")


def content_stems(text: str) -> set[str]:
    """The stems of the words of ``text`` that carry content (not ``_FUNCTION_WORDS``), lower-cased."""
    words = [w.lower() for w in _WORD.findall(text)]
    return set(_stemmer().stemWords([w for w in words if w not in _FUNCTION_WORDS]))


def question_overlap(question: str, text: str) -> float:
    """The share of the question's content words (stemmed) that ``text`` holds, 0 to 1 (1 when the question
    has none). A reader trained on SQuAD, whose questions reuse the passage's words, gives a span a higher
    margin the more of them its passage holds; this measures how much of a margin that may be."""
    asked = content_stems(question)
    return len(asked & content_stems(text)) / len(asked) if asked else 1.0
