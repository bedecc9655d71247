"""Reading and checking gold files: one JSON object a line with id, question, answers, doc and kind."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GoldQuestion:
    """A gold question. ``answers == ()`` means the corpus does not answer it (``doc`` may then be None)."""

    qid: str
    question: str
    answers: tuple[str, ...]
    doc: str | None
    kind: str
    paraphrase: bool = False

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


class GoldFormatError(ValueError):
    """A gold file line is not in the expected format; the message names the line."""


def load_gold(path: str | Path) -> list[GoldQuestion]:
    """Read a gold ``.jsonl`` file. Raises ``GoldFormatError`` naming the first bad line, or for duplicate ids."""
    questions, seen = [], set()
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                answers = row.get("answers", [])
                if not isinstance(row["question"], str) or not isinstance(answers, list):
                    raise TypeError("question must be text and answers a list")
                question = GoldQuestion(
                    str(row.get("id", number)),
                    row["question"],
                    tuple(str(a) for a in answers),
                    row.get("doc"),
                    str(row.get("kind", "unanswerable" if not answers else "other")),
                    bool(row.get("paraphrase", False)),
                )
            except (ValueError, KeyError, TypeError) as error:
                raise GoldFormatError(f"{path}, line {number}: {error}") from error
            if question.answerable and not question.doc:
                raise GoldFormatError(f"{path}, line {number}: an answerable question needs its 'doc'")
            if question.qid in seen:
                raise GoldFormatError(f"{path}, line {number}: duplicate id {question.qid!r}")
            seen.add(question.qid)
            questions.append(question)
    return questions
