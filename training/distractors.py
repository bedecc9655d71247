"""Distractor sentences for reader training (the Reader v3 recipe), after AddSent (Jia and Liang
2017): the paragraph gets one more sentence that looks like the answer's sentence but states another fact,
so a reader that matches words instead of meaning picks the wrong span.

The failure it aims at: asked "How many Hellfire missiles were sold?", the reader answers "75" from "A
shipment of 75 Hellfire missiles arrived", whose words match the question better than the sentence about
the sale does. A distractor is the answer's own sentence with

* the answer replaced by a fake of the same shape (another number, another name), and
* one thing the question asks about changed: a name or number the question shares with the sentence, an
  event verb (``training.negatives.EVENT_SWAPS``: "sold" -> "bought") or an antonym ("largest" ->
  "smallest"),

inserted at a sentence boundary of the paragraph. Two training examples come of it:

* ``pos_distractor``: the paragraph with the distractor; the target stays the real answer, so the reader
  learns that the sentence which matches what is asked wins over the one that matches more words;
* ``neg_distractor``: the paragraph without the answer's sentence but with the distractor; no answer, so
  it learns that a sentence differing in what is asked does not answer.

Every function returns None when the sentence offers nothing to change safely; none is told about any
particular question.
"""

from __future__ import annotations

import random
import re

from embeddings.chunking import sentence_spans
from training.negatives import ANTONYMS, EVENT_SWAPS

# Names (one or more capitalised words) and numbers ("5,000", "1882"), as the entity swaps find them.
NAME = re.compile(r"(?<![\w-])[A-Z][a-z]+(?:\s+(?:of\s+|de\s+)?[A-Z][a-z]+)*(?![\w-])")
NUMBER = re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?![\w,])|(?<![\w.,])\d+(?![\w,.])")


def other_number(text: str, rng: random.Random) -> str:
    """A different number of the same shape (maybe equal for 1): years move by a few years, other numbers by
    10-90%."""
    digits = text.replace(",", "")
    value = int(digits)
    if len(digits) == 4 and 1000 <= value <= 2100:
        new_value = value + rng.choice([-1, 1]) * rng.randint(1, 40)
    else:
        new_value = max(1, value + rng.choice([-1, 1]) * max(1, int(value * rng.uniform(0.1, 0.9))))
    return f"{new_value:,}" if "," in text else str(new_value)


def _fresh_name(width: int, names: list[str], avoid: str, rng: random.Random) -> str | None:
    """A name of ``width`` words from ``names`` none of whose words occurs in ``avoid`` (lower-cased)."""
    pool = [n for n in names if len(n.split()) == width] or names
    for _ in range(20):
        if not pool:
            return None
        name = rng.choice(pool)
        if not any(word in avoid for word in name.lower().split()):
            return name
    return None


def fake_answer(answer: str, context: str, names: list[str], rng: random.Random) -> str | None:
    """``answer`` with every number changed, or (no digits) a name of as many words standing for a name
    answer; None for other answers (a phrase has no safe same-shape stand-in)."""
    if NUMBER.search(answer):
        return NUMBER.sub(lambda m: other_number(m.group(), rng), answer)
    if NAME.fullmatch(answer.strip()):
        return _fresh_name(len(answer.split()), names, context.lower(), rng)
    return None


# Verbs whose counterpart states the same event from the other side ("Spain won against the Netherlands" ->
# "Argentina lost against the Netherlands" says who won): never changed in a look-alike.
_TWO_SIDED = frozenset({"won", "lost", "win", "lose", "wins", "loses", "beat", "defeated"})


def _occurs(item: str, text: str) -> bool:
    """True when ``item`` occurs in ``text`` as whole words ("20" is not in "2014", "Olympic" is in
    "the International Olympic Committee")."""
    return re.search(rf"(?<![\w-]){re.escape(item)}(?![\w-])", text) is not None


def change_what_is_asked(
    sentence: str,
    question: str,
    answer_range: tuple[int, int],
    context: str,
    names: list[str],
    rng: random.Random,
    *,
    avoid: str = "",
) -> str | None:
    """``sentence`` with one thing that ``question`` also names changed, outside ``answer_range`` (the
    answer's offsets in the sentence): a shared name (for another name that neither the context nor
    ``avoid`` mentions), a shared number, an event verb (for its counterpart) or an antonym. A change only
    counts when the changed item then occurs nowhere else in the sentence (so the look-alike no longer
    states what is asked). None when the question and the sentence share none of these."""
    lowered_question = question.lower()
    lowered_context = context.lower()
    answer_start, answer_end = answer_range
    changes: list[tuple[int, int, str]] = []

    def outside(match: re.Match[str]) -> bool:
        return match.end() <= answer_start or match.start() >= answer_end

    for match in NAME.finditer(sentence):
        if outside(match) and match.start() > 0 and _occurs(match.group(), question):
            avoided = lowered_context + " " + avoid.lower()
            replacement = _fresh_name(len(match.group().split()), names, avoided, rng)
            if replacement:
                changes.append((match.start(), match.end(), replacement))
    asked_numbers = {m.group() for m in NUMBER.finditer(question)}
    for match in NUMBER.finditer(sentence):
        if outside(match) and match.group() in asked_numbers:
            changes.append((match.start(), match.end(), other_number(match.group(), rng)))
    for match in re.finditer(r"[A-Za-z]+", sentence):
        word = match.group().lower()
        if not outside(match) or word in _TWO_SIDED or not re.search(rf"\b{word}\b", lowered_question):
            continue
        if word in EVENT_SWAPS:
            counterpart, stems = EVENT_SWAPS[word]
            if not any(stem in lowered_context or stem in lowered_question for stem in stems):
                changes.append((match.start(), match.end(), counterpart))
        elif word in ANTONYMS and ANTONYMS[word] not in lowered_context and ANTONYMS[word] not in lowered_question:
            changes.append((match.start(), match.end(), ANTONYMS[word]))
    rng.shuffle(changes)
    for start, end, replacement in changes:
        old = sentence[start:end]
        changed = sentence[:start] + replacement + sentence[end:]
        if replacement.lower() != old.lower() and not _occurs(old, changed):
            return changed
    return None


def distractor_examples(
    question: str,
    context: str,
    answers: tuple[str, ...],
    answer_start: int,
    names: list[str],
    rng: random.Random,
) -> tuple[tuple[str, int], str] | None:
    """``((context with a distractor, the answer's new start), context without the answer's sentence but
    with the distractor)`` for one answerable question whose first answer ``answers[0]`` starts at
    ``answer_start``, or None when no safe distractor can be made.

    The distractor is the answer's sentence with a fake answer and one thing the question asks about
    changed (see the module docstring); it goes in at a random sentence boundary. None as well when the
    distractor or what is left of the paragraph without the answer's sentence still mentions any of
    ``answers`` (the second context must not answer, the first must have one answer only)."""
    answer = answers[0]
    spans = sentence_spans(context)
    answer_end = answer_start + len(answer)
    holding = [(s, e) for s, e in spans if s <= answer_start and answer_end <= e]
    if not holding or len(spans) < 2:
        return None
    s_start, s_end = holding[0]
    sentence = context[s_start:s_end]
    fake = fake_answer(answer, context, names, rng)
    if fake is None or fake.lower() in context.lower():
        return None
    local_start = answer_start - s_start
    with_fake = sentence[:local_start] + fake + sentence[local_start + len(answer) :]
    fake_range = (local_start, local_start + len(fake))
    distractor = change_what_is_asked(with_fake, question, fake_range, context, names, rng, avoid=fake)
    if distractor is None:
        return None
    distractor = distractor.strip()
    if distractor[-1] not in ".!?":
        distractor += "."
    head, tail = context[:s_start].rstrip(), context[s_end:].lstrip()
    without = (head + " " + tail).strip()
    mentioned = (distractor + " " + without).lower()
    if any(a and a.lower() in mentioned for a in answers):
        return None
    # Any sentence boundary, before or after the answer's sentence: position must not give it away.
    boundaries = [s for s, _ in spans] + [len(context)]
    position = rng.choice(boundaries)
    inserted = distractor + " " if position < len(context) else " " + distractor
    with_distractor = context[:position] + inserted + context[position:]
    new_start = answer_start + len(inserted) if position <= answer_start else answer_start
    if with_distractor[new_start : new_start + len(answer)] != answer:
        return None
    # The same boundary in the paragraph without the answer's sentence (the tail starts after one space).
    tail_offset = len(head) + 1 if head else 0
    at = min(position, tail_offset) if position <= s_start else tail_offset + position - (len(context) - len(tail))
    unanswerable = (without[:at].rstrip() + " " + distractor + " " + without[at:].lstrip()).strip()
    return (with_distractor, new_start), unanswerable
