"""The development question sets stay well formed: the calibration that reads them (``training.calibrate_dev``)
trusts every answer to occur verbatim in its article and every near-miss to say why it has none."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KINDS = {"number", "money", "date", "person", "place", "organisation", "other", "unanswerable"}
SETS = [
    (ROOT / "eval" / "dev_hard.jsonl", ROOT / "corpus"),
    (ROOT / "eval" / "dev_news" / "questions.jsonl", ROOT / "eval" / "dev_news" / "corpus"),
]


@pytest.mark.parametrize(("questions", "corpus"), SETS, ids=["dev_hard", "dev_news"])
def test_every_development_question_is_well_formed(questions, corpus):
    docs = {p.name: p.read_text(encoding="utf-8") for p in corpus.glob("*.txt")}
    rows = [json.loads(line) for line in questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)), "ids repeat"
    questions_asked = [row["question"].strip().lower() for row in rows]
    assert len(questions_asked) == len(set(questions_asked)), "a question is asked twice"
    for row in rows:
        assert row["kind"] in KINDS, row["id"]
        assert row["doc"] in docs, row["id"]
        assert isinstance(row["paraphrase"], bool), row["id"]
        if row["answers"]:
            assert row["kind"] != "unanswerable", row["id"]
            assert all(answer and answer in docs[row["doc"]] for answer in row["answers"]), row["id"]
        else:
            assert row["kind"] == "unanswerable" and row.get("why", "").strip(), row["id"]
    answerable = sum(bool(row["answers"]) for row in rows)
    assert answerable >= 60 and len(rows) - answerable >= 30  # enough of both to fit a threshold on


def test_the_news_set_passes_its_own_validator():
    validator = ROOT / "eval" / "dev_news" / "validate.py"
    result = subprocess.run([sys.executable, str(validator)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
