"""Answer building, step 3: merge candidates into distinct answers and choose which ones to give."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from qa.metrics import normalize_answer
from qa.reader import ReaderCalibration
from qa.reading import PlacedCandidate

MAX_ALTERNATIVES = 4
ALTERNATIVE_MIN_CONFIDENCE = 0.2


@dataclass(frozen=True, kw_only=True)
class AnswerGroup:
    """One distinct answer: its best-ranked wording (``best``), one member per place in the corpus that
    says it (best first), and ``score``, the noisy-or of the best confidence in each document."""

    best: PlacedCandidate
    members: tuple[PlacedCandidate, ...]
    score: float


def _overlaps(a: PlacedCandidate, b: PlacedCandidate) -> bool:
    return a.doc_id == b.doc_id and a.doc_start < b.doc_end and b.doc_start < a.doc_end


def group_candidates(candidates: Sequence[PlacedCandidate]) -> list[AnswerGroup]:
    """Merge candidates into distinct answers, best first.

    Overlapping spans of one document are one place (its best-ranked wording); places with the same
    normalised text are one answer whose score is the noisy-or over the distinct documents that support
    it, so agreement across articles raises confidence.
    """
    places: list[list[PlacedCandidate]] = []
    for candidate in sorted(candidates, key=lambda c: -c.rank_score):
        home = next((p for p in places if any(_overlaps(candidate, member) for member in p)), None)
        if home is None:
            places.append([candidate])
        else:
            home.append(candidate)
    by_text: dict[str, list[PlacedCandidate]] = {}
    for place in places:
        best = place[0]
        key = normalize_answer(best.candidate.text) or best.candidate.text.strip().lower()
        by_text.setdefault(key, []).append(best)
    groups = []
    for members in by_text.values():
        groups.append(AnswerGroup(best=members[0], members=tuple(members), score=_support(members)))
    return sorted(groups, key=lambda g: (-g.score, -g.best.rank_score))


def answer_groups(candidates: Sequence[PlacedCandidate], calibration: ReaderCalibration) -> list[AnswerGroup]:
    """``group_candidates``, then, for a reader with an ``overlap_weight``, every margin moved by that weight
    times the ``overlap`` of the best answer's window, and the confidences and group scores recomputed; the
    order stays. A near-miss question repeats its article's words with one detail changed; a right answer to
    a question in other words often sits in a window that holds few of them. The move is the same for every
    candidate of a question, so it changes whether the bot answers, never which answer it ranks first (a
    window that shares few words with the question never overtakes the one that reads best)."""
    groups = group_candidates(candidates)
    if not calibration.overlap_weight or not groups:
        return groups
    shift = calibration.overlap_weight * groups[0].best.overlap
    return [_moved(group, shift, calibration) for group in groups]


def _moved(group: AnswerGroup, shift: float, calibration: ReaderCalibration) -> AnswerGroup:
    """``group`` with ``shift`` added to each member's margin, confidences and score recomputed."""
    members = []
    for member in group.members:
        candidate = dataclasses.replace(member.candidate, score=member.candidate.score + shift)
        confidence = calibration.confidence(candidate.margin + member.date_bonus)
        members.append(dataclasses.replace(member, candidate=candidate, confidence=confidence))
    return AnswerGroup(best=members[0], members=tuple(members), score=_support(members))


def _support(members: Sequence[PlacedCandidate]) -> float:
    """The noisy-or of the best confidence in each distinct document among ``members``."""
    per_doc: dict[str, float] = {}
    for member in members:
        per_doc[member.doc_id] = max(per_doc.get(member.doc_id, 0.0), member.confidence)
    return 1.0 - math.prod(1.0 - p for p in per_doc.values())


def choose_answers(groups: Sequence[AnswerGroup], *, threshold: float) -> list[AnswerGroup]:
    """The answer to give and its alternatives, best first; empty when the bot should abstain.

    A group is eligible when its best margin beats the reader's calibrated ``threshold``; after the first,
    at most ``MAX_ALTERNATIVES`` more are kept and only those of confidence ``ALTERNATIVE_MIN_CONFIDENCE``
    or more.
    """
    eligible = [g for g in groups if g.best.candidate.margin > threshold][: 1 + MAX_ALTERNATIVES]
    return eligible[:1] + [g for g in eligible[1:] if g.score >= ALTERNATIVE_MIN_CONFIDENCE]
