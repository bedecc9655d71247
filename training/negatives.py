"""More kinds of unanswerable training questions, made from answerable SQuAD 1.1 questions over their own
paragraph (the Reader v2 recipe). Each takes a question that the paragraph answers and changes what it
asks so that the paragraph no longer does, the way people's near-miss questions do:

* ``negate_question``: "Who was the first ...?" -> "Who was not the first ...?";
* ``antonym_question``: "the largest city" -> "the smallest city", when the paragraph never says it;
* ``neighbour_question``: the question's entity replaced by another one the paragraph mentions, away from
  the answer ("the population of Mosul" -> "the population of Baghdad" when Baghdad appears elsewhere);
* ``exclusive_question``: the answer's own fact asked the other way round in time or order ("first" ->
  "second", "before" -> "after") when the paragraph names nothing that fits;
* ``event_question``: the event or role asked about swapped for its counterpart ("How many were killed?"
  -> "How many were wounded?", "sold" -> "bought") when the paragraph has no word for the counterpart.

The entity swap for names, numbers, dates and places stays in ``training.squad_data.swap_question_entity``.
Every function returns None when the question offers nothing to change safely; none is told about any
particular question. They are noisy by nature (as SQuAD 2.0's crowd-written ones were not); the tests pin
down what each guarantees.
"""

from __future__ import annotations

import random
import re

from embeddings.chunking import sentence_spans
from embeddings.documents import MONTHS

# Auxiliaries after which "not" reads naturally with no other change ("did"/"does" need the main verb
# found, so they are left out).
_AUXILIARIES = "is are was were has have had can could will would should may might must".split()
_AUXILIARY = re.compile(r"\b(" + "|".join(_AUXILIARIES) + r")\b(?! not\b|n't\b)", re.IGNORECASE)
_WH_START = re.compile(r"^\s*(who|whom|whose|what|which|when|where|why|how)\b", re.IGNORECASE)

ANTONYMS = {
    "largest": "smallest",
    "biggest": "smallest",
    "highest": "lowest",
    "longest": "shortest",
    "oldest": "youngest",
    "earliest": "latest",
    "first": "last",
    "most": "least",
    "best": "worst",
    "maximum": "minimum",
    "larger": "smaller",
    "higher": "lower",
    "older": "younger",
    "more": "fewer",
    "increase": "decrease",
    "increased": "decreased",
    "won": "lost",
    "win": "lose",
    "north": "south",
    "east": "west",
    "northern": "southern",
    "eastern": "western",
    "upper": "lower",
    "public": "private",
    "legal": "illegal",
    "male": "female",
    "inside": "outside",
    "import": "export",
    "imports": "exports",
}
ANTONYMS |= {v: k for k, v in list(ANTONYMS.items()) if v not in ANTONYMS}

# Order and time words whose shifted form asks for another fact of the same kind.
_SHIFTS = {"first": "second", "before": "after", "after": "before", "earlier": "later", "later": "earlier"}
_NAME = re.compile(r"(?<![\w-])[A-Z][a-z]+(?:\s+(?:of\s+)?[A-Z][a-z]+)*(?![\w-])")
# Capitalised words that are not things a question can be about in place of another name.
_NOT_NAMES = {*MONTHS, *"Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()}


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def negate_question(question: str, context: str, rng: random.Random) -> str | None:
    """Insert "not" after the question's first auxiliary ("was", "has", "can", ...) when the question is a
    wh-question and the paragraph itself holds no negation near that wording. None otherwise."""
    del rng  # deterministic; the signature matches the other makers
    if not _WH_START.match(question) or re.search(r"\b(not|never|no)\b|n't\b", question, re.IGNORECASE):
        return None
    match = _AUXILIARY.search(question)
    if match is None or match.start() > 40:  # an auxiliary deep in a clause is not the question's own
        return None
    if re.search(r"\b(not|never|neither|nor)\b|n't\b", context, re.IGNORECASE):
        return None  # the paragraph may answer the negated question: leave it out
    return question[: match.end()] + " not" + question[match.end() :]


def antonym_question(question: str, context: str, rng: random.Random) -> str | None:
    """Replace one word of the question by its antonym (``ANTONYMS``) when the paragraph never uses the
    antonym, so it cannot say which thing has the opposite property. None when no word qualifies."""
    context_words = _words(context)
    candidates = [m for m in re.finditer(r"[A-Za-z]+", question) if m.group().lower() in ANTONYMS and m.start() > 0]
    candidates = [m for m in candidates if ANTONYMS[m.group().lower()] not in context_words]
    if not candidates:
        return None
    match = rng.choice(candidates)
    return question[: match.start()] + ANTONYMS[match.group().lower()] + question[match.end() :]


def neighbour_question(
    question: str, context: str, answers: tuple[str, ...], answer_start: int, rng: random.Random
) -> str | None:
    """Ask the same thing about a neighbouring entity: a name the question shares with the paragraph is
    replaced by another name of the paragraph that appears in no sentence holding the answer or the
    replaced name (so the paragraph says nothing about the new one in that respect). Names that open a
    sentence ("The", "Government") and month or day names are never taken. None otherwise."""
    spans = sentence_spans(context)
    answer_end = answer_start + len(answers[0]) if answers else answer_start
    near = " ".join(context[s:e] for s, e in spans if s < answer_end and e > answer_start)
    asked = [m for m in _NAME.finditer(question) if m.start() > 0 and m.group() in context]
    if not asked:
        return None
    target = rng.choice(asked)
    around_target = " ".join(context[s:e] for s, e in spans if target.group() in context[s:e])
    answer_text = " ".join(answers)
    neighbours = sorted(
        {
            m.group()
            for m in _NAME.finditer(context)
            if m.group() not in question
            and m.group() not in near
            and m.group() not in around_target
            and m.group() not in answer_text
            and m.group() not in _NOT_NAMES
            and context[: m.start()].rstrip()[-1:] not in ("", ".", "!", "?", '"')  # not a sentence opener
        }
    )
    if not neighbours:
        return None
    return question[: target.start()] + rng.choice(neighbours) + question[target.end() :]


def exclusive_question(question: str, context: str, rng: random.Random) -> str | None:
    """Shift an order or time word of the question ("first" -> "second", "before" -> "after") when the
    paragraph has no word for the shifted fact, so the answer it gives is the one that the new question
    excludes. None when the question has no such word or the paragraph has the shifted one."""
    context_words = _words(context)
    candidates = [
        m
        for m in re.finditer(r"[A-Za-z]+", question)
        if m.group().lower() in _SHIFTS and _SHIFTS[m.group().lower()] not in context_words
    ]
    if not candidates:
        return None
    match = rng.choice(candidates)
    return question[: match.start()] + _SHIFTS[match.group().lower()] + question[match.end() :]


# Event and role verbs, each with its counterpart and the word stems that would let a paragraph answer the
# swapped question after all ("wounded" is answered by "injured" too).
EVENT_SWAPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "killed": ("wounded", ("wound", "injur", "hurt")),
    "wounded": ("killed", ("kill", "dead", "death", "died", "die")),
    "injured": ("killed", ("kill", "dead", "death", "died", "die")),
    "sold": ("bought", ("buy", "bought", "purchas", "acquir")),
    "bought": ("sold", ("sell", "sold", "sale")),
    "purchased": ("sold", ("sell", "sold", "sale")),
    "arrested": ("released", ("releas", "freed", "free")),
    "opened": ("closed", ("clos", "shut")),
    "closed": ("opened", ("open", "reopen")),
    "founded": ("dissolved", ("dissol", "disband", "abolish", "defunct", "clos", "ceas", "merg")),
    "built": ("demolished", ("demolish", "destroy", "torn", "raze")),
    "hired": ("fired", ("fire", "dismiss", "sack")),
    "attacked": ("defended", ("defen", "protect")),
    "arrived": ("departed", ("depart", "left", "leav")),
    "banned": ("allowed", ("allow", "permit", "legal")),
    "allowed": ("banned", ("ban", "prohibit", "forbid", "outlaw")),
    "supported": ("opposed", ("oppos", "against", "criticis", "criticiz")),
    "opposed": ("supported", ("support", "back", "favo", "endors")),
    "accepted": ("rejected", ("reject", "refus", "declin")),
    "rejected": ("accepted", ("accept", "approv", "agree")),
    "approved": ("rejected", ("reject", "refus", "declin", "veto")),
    "won": ("lost", ("lost", "los", "defeat", "beat")),
    "lost": ("won", ("won", "win", "victor", "defeat", "beat", "triumph")),
}


def event_question(question: str, context: str, rng: random.Random) -> str | None:
    """Swap an event or role verb of the question for its counterpart (``EVENT_SWAPS``: "killed" ->
    "wounded") when no word of the paragraph starts with a stem of the counterpart, so the paragraph
    cannot say who or how many did the other thing. None when no verb qualifies."""
    context_words = _words(context)
    candidates = []
    for match in re.finditer(r"[A-Za-z]+", question):
        swap = EVENT_SWAPS.get(match.group().lower())
        if swap and match.start() > 0 and not any(w.startswith(swap[1]) for w in context_words):
            candidates.append((match, swap[0]))
    if not candidates:
        return None
    match, replacement = rng.choice(candidates)
    return question[: match.start()] + replacement + question[match.end() :]


MAKERS = ("neg_negation", "neg_antonym", "neg_neighbour", "neg_exclusive")
# All the makers; ``MAKERS`` is the set the first Reader v2 run trained on (kept, so its --resume rebuilds
# the same data); a run picks its own with ``train_reader --makers``.
ALL_MAKERS = (*MAKERS, "neg_event")


def make_negative(
    kind: str, question: str, context: str, answers: tuple[str, ...], answer_start: int, rng: random.Random
) -> str | None:
    """The unanswerable twin of ``question`` made by ``kind`` (one of ``ALL_MAKERS``), or None."""
    if kind == "neg_negation":
        return negate_question(question, context, rng)
    if kind == "neg_antonym":
        return antonym_question(question, context, rng)
    if kind == "neg_neighbour":
        return neighbour_question(question, context, answers, answer_start, rng)
    if kind == "neg_exclusive":
        return exclusive_question(question, context, rng)
    if kind == "neg_event":
        return event_question(question, context, rng)
    raise ValueError(f"unknown negative kind {kind!r}; use one of {', '.join(ALL_MAKERS)}")
