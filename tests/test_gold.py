"""The shipped gold set: every answer verbatim in its document, unique ids, required counts met."""

from __future__ import annotations

from collections import Counter

import pytest

from embeddings.corpus import load_corpus
from eval.gold import GoldFormatError, load_gold
from tests.conftest import CORPUS_DIR, PROJECT_ROOT

GOLD = PROJECT_ROOT / "eval" / "gold.jsonl"


@pytest.fixture(scope="module")
def gold():
    return load_gold(GOLD)


@pytest.fixture(scope="module")
def documents():
    return {d.doc_id: d for d in load_corpus(CORPUS_DIR)[0]}


def test_every_answer_is_verbatim_in_its_document(gold, documents):
    for question in gold:
        if question.answerable:
            assert question.doc in documents, question.qid
            for answer in question.answers:
                assert answer in documents[question.doc].text, (question.qid, answer)


def test_required_counts(gold, documents):
    kinds = Counter(q.kind for q in gold)
    assert len(gold) >= 120
    assert {q.doc for q in gold if q.doc} == set(documents)
    assert sum(q.paraphrase for q in gold) >= 20
    assert sum(not q.answerable for q in gold) >= 20
    assert kinds["date_sensitive"] >= 8
    assert len({q.qid for q in gold}) == len(gold)


def test_date_sensitive_questions_span_several_articles(gold):
    assert len({q.doc for q in gold if q.kind == "date_sensitive"}) >= 4


def test_no_question_is_copied_from_its_document(gold, documents):
    for question in gold:
        if question.answerable:
            assert question.question.rstrip("?") not in documents[question.doc].text


def test_bad_gold_lines_are_reported_with_the_line(tmp_path):
    path = tmp_path / "g.jsonl"
    path.write_text(
        '{"id": "a", "question": "Q?", "answers": ["x"], "doc": "d.txt"}\n{"id": "a", "question": "Q2?", "answers": []}\n'
    )
    with pytest.raises(GoldFormatError, match="line 2: duplicate"):
        load_gold(path)
    path.write_text('{"question": "Q?", "answers": ["x"]}\n')
    with pytest.raises(GoldFormatError, match="needs its 'doc'"):
        load_gold(path)
    path.write_text("not json\n")
    with pytest.raises(GoldFormatError, match="line 1"):
        load_gold(path)
