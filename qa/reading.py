"""Answer building, step 2: read the windows and place every candidate span in its document.

A candidate keeps the reader's margin (span score minus no-answer score), which alone decides whether
to answer; a bonus for an article dated as the question asks only changes the order of candidates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from embeddings.documents import Document
from embeddings.retrieval import ScoredChunk
from qa.questions import answer_fits_question, question_dates, question_overlap, reading_question
from qa.reader import Reader, ReaderCalibration
from qa.span_decoding import SpanCandidate
from qa.windows import ReadingWindow

# Added to a candidate's margin, for ranking only, when its article's date matches a year (and month)
# the question names: "in the deal announced in August 2014" should prefer the August 2014 article.
DATE_MATCH_BONUS = 2.0
CANDIDATES_PER_WINDOW = 3


@dataclass(frozen=True, kw_only=True)
class PlacedCandidate:
    """A reader span placed in its document: ``document.text[doc_start:doc_end]`` is the span.

    ``confidence`` is the calibrated probability that it is right; ``retrieval`` the retrieved chunk of
    its window; ``date_bonus`` what the question's dates add to its rank; ``overlap`` the share of the
    question's content words its window holds (``qa.questions.question_overlap``; measured only for a reader
    with an ``overlap_weight``, else 0), which moves the decision to answer (``qa.grouping.answer_groups``).
    """

    candidate: SpanCandidate
    doc_id: str
    doc_start: int
    doc_end: int
    confidence: float
    retrieval: ScoredChunk
    date_bonus: float = 0.0
    overlap: float = 0.0

    @property
    def rank_score(self) -> float:
        """The margin plus the date bonus: what orders candidates against each other."""
        return self.candidate.margin + self.date_bonus


def date_bonus(question_years: set[int], question_months: set[int], date: str | None) -> float:
    """``DATE_MATCH_BONUS`` (half for the year alone) when ``date`` (ISO) matches the question's dates."""
    if not date or not question_years:
        return 0.0
    year, month = int(date[:4]), int(date[5:7])
    if year not in question_years:
        return 0.0
    if question_months and month not in question_months:
        return DATE_MATCH_BONUS / 2
    return DATE_MATCH_BONUS


def whole_words(text: str, start: int, end: int) -> str:
    """``text[start:end]`` widened to the white space around it: the words a span touches ("F-16" for
    a span "16" read inside it)."""
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end]


# Quote marks and brackets that open (key) and close (value) a stretch of text.
PAIRS = {"\u201c": "\u201d", "\u2018": "\u2019", "\u00ab": "\u00bb", "(": ")", "[": "]", '"': '"'}
CLOSERS = {closing: opening for opening, closing in PAIRS.items()}
TRAILING = ",;:"


def _unpartnered(span: str, edge: int) -> bool:
    """True when ``span[edge]`` (0: first, -1: last) is a quote mark or bracket whose partner ``span`` lacks."""
    mark = span[edge]
    partner = PAIRS.get(mark) if edge == 0 else CLOSERS.get(mark)
    if partner is None:
        return False
    if partner == mark:  # straight quotes: an odd number of them
        return span.count(mark) % 2 == 1
    return partner not in (span[1:] if edge == 0 else span[:-1])


def tidy_span(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` of ``text[start:end]`` less a quote mark or bracket at its edge whose partner is not
    inside it (the reader often takes the opening quote of "third force" with its first word), and less a
    trailing comma, semicolon or colon; never empty."""
    while end - start > 1:
        span = text[start:end]
        if _unpartnered(span, 0):
            start += 1
        elif _unpartnered(span, -1) or span[-1] in TRAILING:
            end -= 1
        else:
            break
        while end - start > 1 and text[start].isspace():
            start += 1
        while end - start > 1 and text[end - 1].isspace():
            end -= 1
    return start, end


def clearly_ahead(placed: Sequence[PlacedCandidate], stop_margin: float) -> bool:
    """True when some candidate already ranks at ``stop_margin`` or more: so far ahead of "no answer" that
    the windows not read yet are unlikely to hold a better one (how rarely is measured when the margin is
    calibrated: ``training/calibrate_stop.py``)."""
    return any(c.rank_score >= stop_margin for c in placed)


def read_windows(
    reader: Reader,
    question: str,
    windows: Sequence[ReadingWindow],
    documents: dict[str, Document],
    headers: Sequence[str],
    *,
    stop_margin: float | None = None,
) -> list[PlacedCandidate]:
    """Read the windows under their header lines (one per window, "" for none) and return the candidates
    that fit the question, placed in their documents. A span that cannot be what the question asks for
    (no quantity for "how many") is never a candidate, whatever its score.

    With ``stop_margin``, windows are read one at a time, best retrieved first, and reading stops as soon
    as a candidate is ``clearly_ahead``; without it, every window is read.
    """
    if not windows:
        return []
    if stop_margin is None:
        return _read_some(reader, question, windows, documents, headers, list(range(len(windows))))
    placed: list[PlacedCandidate] = []
    for i in sorted(range(len(windows)), key=lambda i: windows[i].retrieval.rank):
        placed += _read_some(reader, question, windows, documents, headers, [i])
        if clearly_ahead(placed, stop_margin):
            break
    return placed


def _read_some(
    reader: Reader,
    question: str,
    windows: Sequence[ReadingWindow],
    documents: dict[str, Document],
    headers: Sequence[str],
    chosen: list[int],
) -> list[PlacedCandidate]:
    """Read ``windows[i]`` for each ``i`` in ``chosen`` in one reader call; place the fitting candidates."""
    texts = [documents[windows[i].doc_id].text[windows[i].start : windows[i].end] for i in chosen]
    calibration = reader.calibration
    years, months = question_dates(question)
    asked = reading_question(question)
    read_headers = [headers[i] for i in chosen]
    overlaps = [
        question_overlap(asked, f"{header}\n{text}") if calibration.overlap_weight else 0.0
        for header, text in zip(read_headers, texts, strict=True)
    ]
    placed = []
    for candidate in reader.read(asked, texts, headers=read_headers, n_best=CANDIDATES_PER_WINDOW):
        window = windows[chosen[candidate.passage_index]]
        text = texts[candidate.passage_index]
        start, end = tidy_span(text, candidate.start, candidate.end)
        if (start, end) != (candidate.start, candidate.end):
            candidate = dataclasses.replace(candidate, start=start, end=end, text=text[start:end])
        if not answer_fits_question(question, whole_words(text, candidate.start, candidate.end)):
            continue
        bonus = date_bonus(years, months, documents[window.doc_id].date)
        placed.append(
            PlacedCandidate(
                candidate=candidate,
                doc_id=window.doc_id,
                doc_start=window.start + candidate.start,
                doc_end=window.start + candidate.end,
                confidence=calibration.confidence(candidate.margin + bonus),
                retrieval=window.retrieval,
                date_bonus=bonus,
                overlap=overlaps[candidate.passage_index],
            )
        )
    return placed


def blend_margins(
    candidates: Sequence[PlacedCandidate],
    first: Sequence[PlacedCandidate],
    weight: float,
    calibration: ReaderCalibration,
) -> list[PlacedCandidate]:
    """The rereader's ``candidates`` with ``weight`` x the first reader's margin for the same span (of the
    same document) added to their scores, their confidence recomputed with the rereader's ``calibration``.
    A span the first reader did not propose gets its lowest margin less one: it ranked the span below
    everything it proposed. Two readers of different sizes and training err differently; where they agree,
    the answer is more often right. Without first-reader candidates the rereader's stand as they are."""
    if not weight or not first:
        return list(candidates)
    margins: dict[tuple[str, int, int], float] = {}
    for c in first:
        key = (c.doc_id, c.doc_start, c.doc_end)
        margins[key] = max(margins.get(key, c.candidate.margin), c.candidate.margin)
    floor = min(margins.values()) - 1.0
    blended = []
    for c in candidates:
        added = weight * margins.get((c.doc_id, c.doc_start, c.doc_end), floor)
        candidate = dataclasses.replace(c.candidate, score=c.candidate.score + added)
        confidence = calibration.confidence(candidate.margin + c.date_bonus)
        blended.append(dataclasses.replace(c, candidate=candidate, confidence=confidence))
    return blended
