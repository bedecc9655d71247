"""The shipped reader and the real encoder end to end (slow: loads both models once)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import qa
from qa.reader import ReaderModel
from tests.conftest import CORPUS_DIR, PROJECT_ROOT

pytestmark = pytest.mark.slow


def _paragraph_pair(answerer, doc_prefix: str, contains: str) -> str:
    """The paragraph containing ``contains`` with the one before it, as the pipeline reads it."""
    document = _document(answerer, doc_prefix)
    chunks = sorted((c for c in answerer.index.chunks if c.doc_id == document.doc_id), key=lambda c: c.index)
    home = next(c for c in chunks if contains in c.text)
    first = chunks[max(0, home.index - 1)]
    return document.text[first.start : home.end]


def _document(answerer, doc_prefix: str):
    return next(d for d in answerer.index.documents.values() if d.doc_id.startswith(doc_prefix))


@pytest.mark.parametrize(
    ("question", "doc", "contains", "expected"),
    [
        # Known misses of the shipped reader (measured 2026-11-22, see MODEL_CARD.md): strict, so a better
        # reader that gets them right turns these into failures until the marks are removed.
        pytest.param(
            "How many Hellfire missiles were sold to Iraq?",
            "003",
            "The $700 million deal",
            "5,000",
            marks=pytest.mark.xfail(strict=True, reason="reader answers '450' (MODEL_CARD.md, limits)"),
        ),
        ("How much is the Hellfire missile deal worth?", "003", "The $700 million deal", "$700 million"),
        ("How many US troops were on the ground in Iraq?", "003", "825 US troops", "825"),
        ("Who is the Turkish foreign minister?", "004", "Ahmet Davutoglu", "Ahmet Davutoglu"),
        ("How many Hellfire missiles arrived in Iraq last week?", "001", "A shipment of 75", "75"),
    ],
)
def test_reader_answers_real_questions_over_corpus_passages(real_answerer, question, doc, contains, expected):
    passage = _paragraph_pair(real_answerer, doc, contains)
    header = real_answerer.reading_header(_document(real_answerer, doc).doc_id)
    best = real_answerer.reader.read(question, [passage], headers=[header])[0]
    assert expected in best.text
    assert passage[best.start : best.end] == best.text
    assert best.margin > real_answerer.reader.calibration.threshold


def test_reader_offsets_are_exact_for_every_candidate(real_answerer):
    passages = [_paragraph_pair(real_answerer, "004", "Ahmet Davutoglu"), "Short passage with Ünïcode — and “quotes”."]
    for candidate in real_answerer.reader.read("Who warned of the harshest retaliation?", passages, n_best=5):
        assert passages[candidate.passage_index][candidate.start : candidate.end] == candidate.text


def test_reader_never_answers_from_a_header(real_answerer):
    header = "Ahmet Davutoglu, Turkish foreign minister, warns Iraq (1 August 2014)"
    passage = "The minister warned of the harshest retaliation on Tuesday, speaking in the capital."
    candidates = real_answerer.reader.read(
        "Who is the Turkish foreign minister?", [passage, passage], headers=[header, ""], n_best=5
    )
    assert {c.passage_index for c in candidates} == {0, 1}
    for candidate in candidates:
        assert passage[candidate.start : candidate.end] == candidate.text
        assert "Davutoglu" not in candidate.text
    with pytest.raises(ValueError, match="one header per passage"):
        real_answerer.reader.read("Who?", [passage], headers=[])


def test_reader_scores_compare_across_passages(real_answerer):
    passage = _paragraph_pair(real_answerer, "003", "825 US troops")
    alone = real_answerer.reader.read("How many US troops were on the ground in Iraq?", [passage], n_best=1)[0]
    mixed = real_answerer.reader.read(
        "How many US troops were on the ground in Iraq?",
        ["The weather in Paris was mild in spring.", passage],
        n_best=1,
    )
    best = mixed[0]
    assert best.passage_index == 1 and best.score == pytest.approx(alone.score, abs=1e-3)


def test_long_passage_uses_every_window(real_answerer):
    filler = " ".join(["The committee met again and discussed routine matters of procedure."] * 60)
    passage = filler + " The treasurer reported that the fund held 937 gold coins."
    best = real_answerer.reader.read("How many gold coins did the fund hold?", [passage], n_best=1)[0]
    assert "937" in best.text and passage[best.start : best.end] == best.text


def test_dated_question_is_answered_from_the_dateline_not_a_month_in_the_text(real_answerer):
    # The first reader alone answered '450' (missiles delivered 'in July'); it is not sure there, and the
    # rereader (trained under datelines) reads '825' (troops, 'last week' under an August 2014 dateline).
    assert real_answerer.rereader is not None
    result = real_answerer.answer("How many US troops were on the ground in Iraq in July 2014?")
    assert result.text and "825" in result.text
    assert result.citations[0].date == "2014-08-01"


def test_shipped_rereader_loads_and_reads_with_its_own_calibration(real_answerer):
    rereader = real_answerer.rereader
    assert isinstance(rereader, ReaderModel) and rereader.model_dir.name == "rereader"
    calibration = rereader.calibration
    assert calibration.passage_header and calibration.stop_margin is not None
    passage = _paragraph_pair(real_answerer, "004", "Ahmet Davutoglu")
    header = real_answerer.reading_header(_document(real_answerer, "004").doc_id, reader=rereader)
    best = rereader.read("Who is the Turkish foreign minister?", [passage], headers=[header])[0]
    assert "Davutoglu" in best.text and passage[best.start : best.end] == best.text


def test_answer_contract_with_real_models(real_answerer):
    result = real_answerer.answer("How many US troops were on the ground in Iraq?")
    assert result.text and "825" in result.text
    citation = result.citations[0]
    assert citation.passage[citation.start : citation.end] == result.text
    assert citation.date == "2014-08-01" and citation.title == "US boosts missile sales to Iraq"


# The design card's own question, through the whole pipeline: the sale is the $700 million deal of the
# 1 August 2014 article ("an additional 5,000 missiles"), not the 75 that arrived (December 2013) nor the 450
# delivered in July. Strict: a pipeline that gets it right turns this into a failure until the mark goes.
@pytest.mark.xfail(strict=True, reason="answers '75' or '450' (models/rereader/MODEL_CARD.md, limitations)")
@pytest.mark.parametrize(
    "question", ["How many Hellfire missiles were sold?", "How many Hellfire missiles were sold to Iraq?"]
)
def test_the_hellfire_sale_is_answered_from_its_article(real_answerer, question):
    result = real_answerer.answer(question)
    assert result.text == "5,000"
    assert result.citations[0].date == "2014-08-01" and result.citations[0].title == "US boosts missile sales to Iraq"


@pytest.mark.parametrize("question", ["Who won the 2014 FIFA World Cup?", "What is the capital of Australia?"])
def test_off_topic_questions_abstain(real_answerer, question):
    result = real_answerer.answer(question)
    assert result.text is None and result.citations == ()


def test_missing_reader_is_a_typed_error(tmp_path):
    with pytest.raises(qa.ReaderModelMissingError, match="models/reader"):
        ReaderModel(tmp_path).load()


def test_cli_ask_json_and_text(real_index):
    env = dict(os.environ, HF_HUB_OFFLINE="1", QA_INDEX=str(real_index), QA_CORPUS=str(CORPUS_DIR))

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "cli", *args],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    done = run("ask", "How many US troops were on the ground in Iraq?", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert "825" in data["text"] and data["citations"][0]["doc_id"].startswith("003")
    done = run("ask", "How many US troops were on the ground in Iraq?")
    assert done.returncode == 0 and "[[825" in done.stdout and "US boosts missile sales to Iraq" in done.stdout
    done = run("ask", "   ")
    assert done.returncode == 2 and "empty" in done.stderr and "Traceback" not in done.stderr
    done = run("search", "Hellfire missiles sold", "-k", "2", "--mode", "bm25")
    assert done.returncode == 0 and done.stdout.startswith("1. ")


def test_cli_reports_missing_index_with_the_fix(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", QA_INDEX=str(tmp_path / "none"), QA_CORPUS=str(CORPUS_DIR))
    done = subprocess.run(
        [sys.executable, "-m", "cli", "ask", "How many missiles?"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and "qa index" in done.stderr and "Traceback" not in done.stderr


def test_app_answers_offline_without_network(real_index):
    """The whole system runs in a network namespace with no interface but loopback (``unshare -n``)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", QA_INDEX=str(real_index), QA_CORPUS=str(CORPUS_DIR))
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("unshare -n is not permitted here; the socket-blocking fixture still covers the suite")
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "cli", "ask", "Who is the Turkish foreign minister?", "--json"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Davutoglu" in json.loads(done.stdout)["text"]


def test_question_of_many_word_pieces_is_truncated_not_a_crash(real_answerer):
    question = "9" * 400 + " how many missiles?"
    candidates = real_answerer.reader.read(question, [_paragraph_pair(real_answerer, "003", "825 US troops")])
    assert all(c.text for c in candidates)
