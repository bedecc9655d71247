"""Test doubles: a reader that "finds" configured answers by string search, with fixed margins; a one-paragraph
SQuAD-format article for the training-data tests."""

from __future__ import annotations

from qa.reader import ReaderCalibration
from qa.span_decoding import SpanCandidate


class FakeReader:
    """Answers a question with every occurrence of its configured answer strings.

    ``answers`` maps a question to [(answer text, margin)]; each occurrence in a passage becomes a
    candidate with that margin (null score 0). Unknown questions yield a weak candidate (margin -5).
    """

    def __init__(
        self,
        answers: dict[str, list[tuple[str, float]]] | None = None,
        *,
        threshold: float = 0.0,
        passage_header: bool = False,
        stop_margin: float | None = None,
    ):
        self.answers = answers or {}
        self.calibration = ReaderCalibration(
            threshold=threshold, slope=1.0, intercept=0.0, passage_header=passage_header, stop_margin=stop_margin
        )
        self.calls: list[tuple[str, list[str]]] = []
        self.headers: list[list[str]] = []

    def load(self):
        return None

    def read(self, question, passages, *, headers=None, n_best=None):
        self.calls.append((question, list(passages)))
        self.headers.append(list(headers) if headers is not None else [""] * len(passages))
        candidates = []
        for index, passage in enumerate(passages):
            for text, margin in self.answers.get(question, []):
                start = passage.find(text)
                while start >= 0:
                    candidates.append(
                        SpanCandidate(
                            passage_index=index,
                            start=start,
                            end=start + len(text),
                            text=text,
                            score=margin,
                            null_score=0.0,
                        )
                    )
                    start = passage.find(text, start + 1)
            if question not in self.answers and passage.strip():
                word_end = passage.find(" ") if " " in passage else len(passage)
                candidates.append(
                    SpanCandidate(
                        passage_index=index, start=0, end=word_end, text=passage[:word_end], score=-5.0, null_score=0.0
                    )
                )
        return sorted(candidates, key=lambda c: -c.score)


def squad_article(paragraph: str, questions: list[tuple[str, str]], title: str = "Iraq") -> dict:
    """A SQuAD-format article of one paragraph whose questions ``(question, answer)`` get ids q0, q1, ...
    and their answer's first offset in ``paragraph``."""
    qas = [
        {"id": f"q{i}", "question": q, "answers": [{"text": a, "answer_start": paragraph.index(a)}]}
        for i, (q, a) in enumerate(questions)
    ]
    return {"title": title, "paragraphs": [{"context": paragraph, "qas": qas}]}
