"""The repository speaks of versions, dates and commits only: no text or file name in it refers to numbered
work periods or to task or issue numbers, or says who wrote a part of it instead of how it was written.

The files scanned are those git tracks plus new ones it does not ignore (they are committed with the change
that adds them). Exempt: the articles of ``corpus/``, which are their authors' words, and the readers'
tokenizer vocabularies, which hold every English word.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import PROJECT_ROOT
from tests.repository import repository_files

# Words and names that tell how the work was organised rather than what the project is or when it changed.
# ("session" alone is ordinary: an ONNX Runtime session, a sign-in session; a number after it is not.)
FORBIDDEN = {
    "a numbered work period": re.compile(r"\bsessions?[\s_-]*#?\d+|\b\d+(?:st|nd|rd|th)[\s-]+session\b", re.I),
    "a task or issue number": re.compile(r"\b(?:task|issue|ticket)s?[\s_-]*#?\d+", re.I),
    "who wrote it": re.compile(
        r"\bclaude\b"
        r"|\bsub-?agents?\b"
        r"|\bassist"
        r"ants?\b(?!\s+secretary)"  # "Deputy Assistant Secretary of State" is a job in the articles
        r"|\b(?:ai|coding|llm|language[\s-]model)[\s-]+(?:helper|agent)s?\b"
        r"|\b(?:helper|agent)-(?:written|made|reviewed)\b"
        r"|\b(?:written|drafted|authored|composed|made|reviewed|checked|prepared|generated)\s+by\s+"
        r"(?:an?\s+|the\s+|another\s+|one\s+)?(?:helper|agent)s?\b"
        r"|\b(?:helper|agent)s?(?:['’]s?)?\s+(?:wrote|writes|drafted|authored|reviewed|review)\b",
        re.I,
    ),
}
EXEMPT_PREFIXES = ("corpus/",)
EXEMPT_NAMES = ("vocab.txt", "tokenizer.json")


def problems(text: str) -> list[str]:
    """What in ``text`` matches a forbidden pattern, as "line N, kind: matched words" (a phrase may run over a
    line break)."""
    return [
        f"line {text.count(chr(10), 0, match.start()) + 1}, {kind}: {match.group(0)!r}"
        for kind, pattern in FORBIDDEN.items()
        for match in pattern.finditer(text)
    ]


def name_problems(path: str) -> list[str]:
    """``problems`` of a file name, its underscores read as spaces (``_`` is a word character to a regex)."""
    return problems(path.replace("_", " "))


def _scanned(path: str) -> bool:
    return not path.startswith(EXEMPT_PREFIXES) and path.rsplit("/", 1)[-1] not in EXEMPT_NAMES


def _text(path: str) -> str | None:
    """The file's text, or None for a binary file (or one deleted but not yet unstaged)."""
    try:
        data = (PROJECT_ROOT / path).read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


def _said(*words: str) -> str:
    # Examples are assembled at run time so that this file does not hold the phrases it forbids.
    return " ".join(words)


@pytest.mark.parametrize(
    "text",
    [
        _said("Session", "13's measurements"),
        "the session" + "-12 graph",
        _said("why", "issue", "12's bars are out of reach"),
        _said("fixed in", "issue", "#15"),
        _said("see", "task", "12"),
        _said("30 questions", "written by a", "helper", "from the articles"),
        _said("A", "helper", "wrote them"),
        _said("after a", "helper's", "review"),
        _said("the", "agent", "wrote this"),
        _said("an AI", "assist" + "ant"),
        _said("Clau" + "de", "drafted it"),
    ],
)
def test_the_check_finds_work_periods_task_numbers_and_assistants(text):
    assert problems(text)


@pytest.mark.parametrize(
    "text",
    [
        "a helper function that formats dates",
        "tests/real_system.py: helpers for tests that use the real models",
        "the ONNX Runtime session of the reader; sessions do not spin",
        '@pytest.fixture(scope="session")',
        "a session cookie; sessions expire after 12 idle hours",
        "Ray tasks read and chunk the files; 2 tasks at a time",
        "Deputy Assistant Secretary of State for Iraq and Iran",
        "an emergency session of parliament",
        "issues are welcome; the task of the reader is to find spans",
        "the user agent string",
    ],
)
def test_the_check_lets_ordinary_words_pass(text):
    assert problems(text) == []


def test_the_check_reads_file_names_too():
    assert name_problems("bench/results/latency_compare_" + "session" + "12.json")
    assert name_problems("bench/results/reader_squad_" + "session" + "4_fp32.json")
    assert name_problems("bench/results/latency_compare_0.8.0.json") == []


def test_no_file_name_speaks_of_work_periods_task_numbers_or_assistants():
    named = {path: name_problems(path) + problems(path) for path in repository_files()}
    assert {path: found for path, found in named.items() if found} == {}


def test_no_text_speaks_of_work_periods_task_numbers_or_assistants():
    found = {}
    for path in filter(_scanned, repository_files()):
        text = _text(path)
        if text is None:
            continue
        if problems(text):
            found[path] = problems(text)[:5]
    assert found == {}, "say it with versions, dates or commits instead:\n" + "\n".join(
        f"{path}, {problem}" for path, listed in found.items() for problem in listed
    )
