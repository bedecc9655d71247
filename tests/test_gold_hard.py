"""The hard gold set (eval/gold_hard.jsonl): paraphrased questions and near-miss unanswerables.

Fast (no models). Checks the counts and spread, that every answer is verbatim in its cleaned document,
and the no-copying rule: no answerable question shares a run of 3 consecutive content words with the
sentence(s) of its document that hold its answers. The checker is unit-tested below on a copied question
(must be caught) and a paraphrased one (must pass), so the rule is proven able to fail.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from embeddings.corpus import load_corpus
from eval.gold import load_gold
from tests.conftest import CORPUS_DIR, PROJECT_ROOT

GOLD_HARD = PROJECT_ROOT / "eval" / "gold_hard.jsonl"
GOLD = PROJECT_ROOT / "eval" / "gold.jsonl"

MIN_ANSWERABLE = 60
MIN_UNANSWERABLE = 40
MIN_PER_DOCUMENT = 8
KINDS = {"person", "number", "money", "date", "place", "organisation", "other"}

STOPWORDS = frozenset(
    (
        "the a an of in on at to for by with from and or is was were are be been "
        "what which who whom whose when where why how did does do that this these those it its as into "
        "than then many much has had have not after before their his her they he she we us"
    ).split()
)

_TOKEN = re.compile(r"[a-z0-9]+")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")


def content_words(text: str) -> list[str]:
    """Lowercased ``[a-z0-9]+`` tokens of ``text`` that are not stopwords, in order."""
    return [token for token in _TOKEN.findall(text.lower()) if token not in STOPWORDS]


def trigrams(words: list[str]) -> set[tuple[str, str, str]]:
    return {(words[i], words[i + 1], words[i + 2]) for i in range(len(words) - 2)}


def copied_runs(question: str, sentence: str) -> set[tuple[str, str, str]]:
    """The runs of 3 consecutive content words the question shares with the sentence (empty = not copied)."""
    return trigrams(content_words(question)) & trigrams(content_words(sentence))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence: the text split at [.!?] followed by whitespace."""
    spans, start = [], 0
    for match in _SENTENCE_BREAK.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def answer_sentences(text: str, answers) -> list[str]:
    """Every sentence of ``text`` that holds (or overlaps) an occurrence of any of ``answers``."""
    spans = sentence_spans(text)
    found: dict[tuple[int, int], None] = {}
    for answer in answers:
        for match in re.finditer(re.escape(answer), text):
            for start, end in spans:
                if start < match.end() and match.start() < end:
                    found[(start, end)] = None
    return [text[s:e] for s, e in sorted(found)]


# --- the checker itself, proven able to fail ---------------------------------------------------------

SOURCE = "A shipment of 75 Hellfire missiles arrived in Iraq last week, according to the Times report. It was paid for."


def test_checker_catches_a_copied_question():
    copied = "How many Hellfire missiles arrived in Iraq last week?"
    assert copied_runs(copied, SOURCE) >= {("hellfire", "missiles", "arrived"), ("iraq", "last", "week")}
    # Stopwords in between do not hide a copied run.
    assert copied_runs("Which of the Hellfire missiles that arrived?", SOURCE) == {("hellfire", "missiles", "arrived")}


def test_checker_passes_a_paraphrased_question():
    paraphrase = "How many of the guided rockets reached Baghdad seven days earlier, per the newspaper?"
    assert copied_runs(paraphrase, SOURCE) == set()
    # Two shared words in a row are allowed; only runs of three count.
    assert copied_runs("How many Hellfire missiles reached the country?", SOURCE) == set()


def test_answer_sentences_finds_only_the_sentences_holding_an_answer():
    assert answer_sentences(SOURCE, ["75"]) == [SOURCE.split(" It ")[0]]
    assert answer_sentences(SOURCE, ["paid", "75"]) == [SOURCE.split(" It ")[0], "It was paid for."]
    assert answer_sentences(SOURCE, ["absent"]) == []


def test_a_copied_gold_line_would_fail_the_rule():
    text = "Intro here. " + SOURCE
    question = "How many Hellfire missiles arrived in Iraq last week?"
    assert any(copied_runs(question, s) for s in answer_sentences(text, ["75"]))


# --- the shipped hard gold set ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gold():
    return load_gold(GOLD_HARD)


@pytest.fixture(scope="module")
def documents():
    return {d.doc_id: d for d in load_corpus(CORPUS_DIR)[0]}


def test_loads_with_unique_ids(gold):
    assert gold
    assert len({q.qid for q in gold}) == len(gold)
    raw_ids = [json.loads(line)["id"] for line in GOLD_HARD.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(raw_ids) == len(set(raw_ids)) == len(gold)


def test_counts_and_spread(gold, documents):
    answerable = [q for q in gold if q.answerable]
    unanswerable = [q for q in gold if not q.answerable]
    assert len(answerable) >= MIN_ANSWERABLE
    assert len(unanswerable) >= MIN_UNANSWERABLE
    per_doc = Counter(q.doc for q in answerable)
    assert set(per_doc) == set(documents), per_doc
    assert min(per_doc.values()) >= MIN_PER_DOCUMENT, per_doc


def test_answerable_questions_are_well_formed(gold, documents):
    for q in gold:
        if q.answerable:
            assert q.qid.startswith("hard-"), q.qid
            assert q.doc in documents, q.qid
            assert q.kind in KINDS, (q.qid, q.kind)
            assert q.paraphrase, q.qid
            assert q.question.strip().endswith("?"), q.qid
            assert all(a.strip() == a and a for a in q.answers), q.qid


def test_every_answer_is_verbatim_in_its_cleaned_document(gold, documents):
    for q in gold:
        if q.answerable:
            text = documents[q.doc].text
            for answer in q.answers:
                assert answer in text, (q.qid, answer)


def test_no_question_copies_three_content_words_from_its_answer_sentence(gold, documents):
    failures = []
    for q in gold:
        if not q.answerable:
            continue
        sentences = answer_sentences(documents[q.doc].text, q.answers)
        assert sentences, q.qid
        for sentence in sentences:
            runs = copied_runs(q.question, sentence)
            if runs:
                failures.append((q.qid, sorted(runs), sentence[:120]))
    assert not failures, failures


def test_unanswerable_questions_have_no_answers(gold):
    for q in gold:
        if not q.answerable:
            assert q.answers == (), q.qid
            assert q.kind == "unanswerable", q.qid
            assert q.qid.startswith("nearmiss-"), q.qid
            assert q.question.strip().endswith("?"), q.qid


def test_no_question_repeats_the_original_gold_set(gold):
    def norm(text: str) -> str:
        return " ".join(_TOKEN.findall(text.lower()))

    original = {norm(q.question) for q in load_gold(GOLD)}
    repeated = [q.qid for q in gold if norm(q.question) in original]
    assert not repeated, repeated
    assert len({norm(q.question) for q in gold}) == len(gold)
