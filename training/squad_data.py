"""SQuAD-format loading, unanswerable-example synthesis and tokenisation into training windows."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.chunking import sentence_spans
from embeddings.documents import MONTHS
from training.distractors import NAME, NUMBER, distractor_examples, other_number
from training.negatives import MAKERS, make_negative

_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    (
        "the a an of in on at to for by with from and or is was were are be been what which who whom whose "
        "when where why how did does do that this these those it its as into than then"
    ).split()
)


@dataclass(frozen=True)
class QAExample:
    """One question over one context; ``answer_start`` is -1 (and ``answers`` empty) when unanswerable."""

    qid: str
    question: str
    context: str
    answers: tuple[str, ...]
    answer_start: int
    # "pos", "pos_paraphrase" (a paraphrased question kept twice), "pos_distractor" (a look-alike sentence
    # added), "neg_drop" (answer sentence removed), "neg_other" (other paragraph), "neg_swap",
    # "neg_distractor" (answer sentence replaced by a look-alike), or one of training.negatives.ALL_MAKERS
    kind: str


def load_articles(path: str | Path) -> list[dict]:
    """Return the ``data`` list (articles) of a SQuAD-format JSON file."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)["data"]


def content_words(text: str) -> set[str]:
    """Lower-cased words of ``text`` that are not stopwords."""
    return {w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS}


def _contains_any(text: str, answers: tuple[str, ...]) -> bool:
    lowered = text.lower()
    return any(a.lower() in lowered for a in answers if a)


# A question is "asked in other words" when at most this share of its content words occur in its answer's
# sentence: 23% of SQuAD 1.1 train questions, 67% of eval/gold_hard.jsonl's answerable ones (9% of
# eval/gold.jsonl's), measured over the first 100 train articles.
PARAPHRASE_OVERLAP = 1 / 3


def is_paraphrased(question: str, context: str, start: int, end: int) -> bool:
    """True when at most ``PARAPHRASE_OVERLAP`` of the content words of ``question`` occur in the sentences
    holding the answer at [start, end): the question is asked in other words, as people ask."""
    around = " ".join(context[s:e] for s, e in sentence_spans(context) if s < end and start < e)
    asked = content_words(question)
    return bool(asked) and len(asked & content_words(around or context)) <= PARAPHRASE_OVERLAP * len(asked)


def drop_answer_sentences(context: str, start: int, end: int, answers: tuple[str, ...]) -> str | None:
    """Return ``context`` without the sentences overlapping [start, end), or None if that is impossible."""
    kept = [context[s:e] for s, e in sentence_spans(context) if e <= start or s >= end]
    if not kept:
        return None
    new_context = " ".join(kept)
    if len(new_context) < 60 or _contains_any(new_context, answers):
        return None
    return new_context


def name_pool(articles: list[dict], *, limit: int = 50_000) -> list[str]:
    """Capitalised names (one to three words, not sentence-initial) seen in the articles' paragraphs."""
    names: dict[str, None] = {}
    for article in articles:
        for paragraph in article["paragraphs"]:
            for match in NAME.finditer(paragraph["context"]):
                before = paragraph["context"][: match.start()].rstrip()
                if before and before[-1] not in '.!?"' and len(match.group().split()) <= 3:
                    names[match.group()] = None
            if len(names) >= limit:
                return list(names)
    return list(names)


def swap_question_entity(
    question: str,
    context: str,
    answers: tuple[str, ...],
    names: list[str],
    rng: random.Random,
    *,
    same_shape: bool = False,
) -> str | None:
    """Make an unanswerable twin of ``question`` for the same ``context``, SQuAD 2.0 style.

    One name or number that the question shares with the context (and that is not part of the answer) is
    replaced by another name, or another number, that the context never mentions: "When did Tesla move to
    Paris?" becomes "When did Tesla move to Berlin?". Returns None when the question offers nothing to swap.
    With ``same_shape`` a name is replaced by one of as many words when ``names`` has any ("Macao" by
    "Taipa", not by a person's full name).
    """
    lowered_context = context.lower()
    answer_text = " ".join(answers).lower()
    candidates = []
    for pattern in (NAME, NUMBER):
        for match in pattern.finditer(question):
            span = match.group()
            if match.start() == 0 or span not in context or span.lower() in answer_text:
                continue
            candidates.append((match.start(), match.end(), pattern is NUMBER))
    if not names:
        candidates = [c for c in candidates if c[2]]
    if not candidates:
        return None
    start, end, is_number = rng.choice(candidates)
    if same_shape and not is_number:
        width = len(question[start:end].split())
        names = [n for n in names if len(n.split()) == width] or names
    for _ in range(20):
        replacement = other_number(question[start:end], rng) if is_number else rng.choice(names)
        words = replacement.lower().split()
        if replacement.lower() in lowered_context or any(w in lowered_context.split() for w in words):
            continue
        return question[:start] + replacement + question[end:]
    return None


def _derived(
    qa: dict, context: str, answers: tuple[str, ...], start: int, kind: str, question: str | None = None
) -> QAExample:
    """An example made from SQuAD question ``qa`` (asked as ``question`` when that is given): its id gets
    "_<kind>" (``example_titles`` relies on it)."""
    return QAExample(qa["id"] + "_" + kind, question or qa["question"], context, answers, start, kind)


def examples_from_articles(
    articles: list[dict],
    *,
    negative_ratio: float,
    rng: random.Random,
    swap_ratio: float = 0.0,
    names: list[str] | None = None,
    perturb_ratio: float = 0.0,
    makers: tuple[str, ...] = MAKERS,
    article_swap_ratio: float = 0.0,
    distractor_ratio: float = 0.0,
    paraphrase_ratio: float = 0.0,
) -> list[QAExample]:
    """Return one positive example per question plus synthetic unanswerable ones.

    With probability ``negative_ratio`` a question also yields a negative: either its paragraph with the
    answer-bearing sentences removed, or the paragraph of the same article that shares most content words
    with the question but does not contain the answer (a hard negative, like a retriever's near miss).
    With probability ``swap_ratio`` it also yields an entity-swapped twin of the question over its own
    paragraph (``swap_question_entity``; the replacement names come from ``names``, or for an
    ``article_swap_ratio`` share of swaps from the names of the question's own article, as people's near-miss
    questions ask about another city or person of the same story; the global ``names`` when none of the
    article's fits). With probability
    ``perturb_ratio`` it also yields a twin changed by one of ``makers`` (by default
    ``training.negatives.MAKERS``: negation, antonym, neighbouring entity, excluded order; ``ALL_MAKERS`` adds
    the event swap), the first of them, in random order, that applies. With probability
    ``distractor_ratio`` it also yields the two examples of ``training.distractors.distractor_examples``
    (the paragraph with a look-alike sentence stating another fact, answer kept: ``pos_distractor``; the
    paragraph with the look-alike in place of the answer's sentence: ``neg_distractor``), names for the
    look-alike taken from the question's own article first. With probability ``paraphrase_ratio`` a
    question asked in other words than its answer's sentence (``is_paraphrased``) is kept twice
    (``pos_paraphrase``): two thirds of the questions people ask are of that kind, a quarter of SQuAD's.
    """
    examples: list[QAExample] = []
    for article in articles:
        paragraphs = [p["context"] for p in article["paragraphs"]]
        paragraph_words = [content_words(p) for p in paragraphs]
        article_names = name_pool([article]) if article_swap_ratio or distractor_ratio else []
        for p_index, paragraph in enumerate(article["paragraphs"]):
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                if not qa["answers"]:
                    continue
                answer = qa["answers"][0]
                answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                start = answer["answer_start"]
                if context[start : start + len(answer["text"])] != answer["text"]:
                    continue
                examples.append(QAExample(qa["id"], qa["question"], context, answers, start, "pos"))
                end = start + len(answer["text"])
                repeat = paraphrase_ratio and rng.random() < paraphrase_ratio
                if repeat and is_paraphrased(qa["question"], context, start, end):
                    examples.append(_derived(qa, context, answers, start, "pos_paraphrase"))
                if distractor_ratio and rng.random() < distractor_ratio:
                    local = [n for n in article_names if n not in context]
                    made = distractor_examples(
                        qa["question"], context, answers, start, local if len(local) >= 5 else names or [], rng
                    )
                    if made:
                        (with_distractor, new_start), unanswerable = made
                        examples.append(_derived(qa, with_distractor, answers, new_start, "pos_distractor"))
                        examples.append(_derived(qa, unanswerable, (), -1, "neg_distractor"))
                if swap_ratio and rng.random() < swap_ratio:
                    swapped = None
                    if article_names and rng.random() < article_swap_ratio:
                        elsewhere = [n for n in article_names if n not in context]  # a small pool: filter first
                        swapped = swap_question_entity(
                            qa["question"], context, answers, elsewhere, rng, same_shape=True
                        )
                    swapped = swapped or swap_question_entity(qa["question"], context, answers, names or [], rng)
                    if swapped:
                        examples.append(_derived(qa, context, (), -1, "neg_swap", question=swapped))
                if perturb_ratio and rng.random() < perturb_ratio:
                    for kind in rng.sample(makers, len(makers)):
                        changed = make_negative(kind, qa["question"], context, answers, start, rng)
                        if changed:
                            examples.append(_derived(qa, context, (), -1, kind, question=changed))
                            break
                if rng.random() >= negative_ratio:
                    continue
                negative = None
                kinds = ["neg_drop", "neg_other"] if rng.random() < 0.5 else ["neg_other", "neg_drop"]
                for kind in kinds:
                    if kind == "neg_drop":
                        dropped = drop_answer_sentences(context, start, start + len(answer["text"]), answers)
                        if dropped:
                            negative = (kind, dropped)
                    else:
                        question_words = content_words(qa["question"])
                        candidates = [
                            (len(question_words & words), i)
                            for i, words in enumerate(paragraph_words)
                            if i != p_index and not _contains_any(paragraphs[i], answers)
                        ]
                        if candidates:
                            negative = (kind, paragraphs[max(candidates)[1]])
                    if negative:
                        break
                if negative:
                    examples.append(_derived(qa, negative[1], (), -1, negative[0]))
    return examples


def example_titles(examples: list[QAExample], articles: list[dict]) -> list[str]:
    """The title (underscores as spaces) of the article each example's question comes from."""
    title_of = {qa["id"]: a["title"].replace("_", " ") for a in articles for p in a["paragraphs"] for qa in p["qas"]}
    # Synthetic negatives carry their source question's id plus "_<kind>" (SQuAD ids may hold "_" too).
    return [title_of[e.qid.removesuffix("_" + e.kind) if e.kind != "pos" else e.qid] for e in examples]


# Text that places itself in time: a year (1000-2099, "1990s"), a year or decade of an era ("AD 90",
# "800 BC", "'90s"), a century or millennium. A question, passage or title with one never gets a made-up
# date, which could contradict it.
_DATED = re.compile(
    r"\b(?:1\d{3}|20\d{2})s?\b|\b\d{1,4}\s*(?:BCE?|AD|CE)\b|\bAD\s*\d{1,4}\b|'\d0s\b"
    r"|\b(?:[Cc]entur(?:y|ies)|[Mm]illenni(?:um|a))\b"
)
# Questions about time itself ("When ...", "What month ...", "How long ago ...", "At what age ...") are
# never narrowed to a date either.
_ASKS_ABOUT_TIME = re.compile(
    r"\b(?:when|years?|dates?|dated|decades?|months?|weeks?|days?|era|eras|period|periods|age|ages|ago|long|old"
    r"|season|seasons|time|times|since|until|before|after|during)\b",
    re.IGNORECASE,
)


def dated_header(title: str, rng: random.Random) -> tuple[str, int, int]:
    """``title`` with a made-up dateline, as the pipeline writes one ("Title (1 August 2014)"), its year
    and month."""
    year, month, day = rng.randint(1995, 2024), rng.randint(1, 12), rng.randint(1, 28)
    return f"{title} ({day} {MONTHS[month - 1]} {year})", year, month


def ask_with_date(question: str, year: int, month: int | None) -> str:
    """``question`` (ending in "?") narrowed to a time: "Who leads the party?" -> "Who leads the party in
    March 2013?" (``month`` None: the year alone)."""
    when = f"{MONTHS[month - 1]} {year}" if month else str(year)
    return f"{question.rstrip().removesuffix('?').rstrip()} in {when}?"


def can_take_a_date(question: str, context: str, title: str = "") -> bool:
    """True when a date may be added to ``question`` without changing what it asks: it ends in "?", neither
    it, its passage nor its title places itself in time (their own dates would contradict an invented one),
    and it does not ask about time itself."""
    return (
        question.rstrip().endswith("?")
        and not any(_DATED.search(text) for text in (question, context, title))
        and not _ASKS_ABOUT_TIME.search(question)
    )


def with_title_headers(
    examples: list[QAExample],
    articles: list[dict],
    *,
    ratio: float,
    rng: random.Random,
    date_ratio: float = 0.0,
    question_date_ratio: float = 0.0,
) -> list[QAExample]:
    """Put the article title on a line before the context of a ``ratio`` share of ``examples``.

    The shipped reader reads corpus passages under their title-and-date line (``qa.reader`` ``headers``);
    training some examples that way teaches it to use that line without ever answering from it (the
    answer offset moves past the header, so no target lies in it).

    A ``date_ratio`` share of those headers also get a made-up dateline (``dated_header``), as news
    passages have. Then, for a ``question_date_ratio`` share of the questions that ``can_take_a_date``, the
    question is narrowed to the dateline's time ("... in 2013?", "... in March 2013?", or the month before,
    as news reports last month's events). Its label stays what it was, answerable or not, so a year that
    only the dateline states stops meaning "no answer" (year swaps had taught that).
    """
    if ratio <= 0:
        return examples
    titles = example_titles(examples, articles)
    result = []
    for example, title in zip(examples, titles, strict=True):
        if rng.random() >= ratio:
            result.append(example)
            continue
        question = example.question
        if date_ratio and rng.random() < date_ratio:
            plain_title = title
            title, year, month = dated_header(title, rng)
            if rng.random() < question_date_ratio and can_take_a_date(question, example.context, plain_title):
                draw = rng.random()
                asked_month = None if draw < 0.5 else month if draw < 0.85 else (month - 2) % 12 + 1
                asked_year = year - 1 if asked_month == 12 and month == 1 else year
                question = ask_with_date(question, asked_year, asked_month)
        header = f"{title}\n"
        start = example.answer_start + len(header) if example.answer_start >= 0 else -1
        result.append(QAExample(example.qid, question, header + example.context, example.answers, start, example.kind))
    return result


@dataclass
class Windows:
    """Tokenised training windows (ragged arrays) with their target token positions."""

    input_ids: list[np.ndarray]
    token_type_ids: list[np.ndarray]
    start_positions: np.ndarray
    end_positions: np.ndarray

    def __len__(self) -> int:
        return len(self.input_ids)


def encode_examples(
    tokenizer: Any, examples: Sequence[QAExample], *, max_length: int, stride: int, **options: Any
) -> Any:
    """Tokenise question/context pairs into overlapping stride windows with character offsets, as the
    shipped reader does; ``options`` go to the tokenizer (e.g. ``padding=True, return_tensors="pt"``)."""
    return tokenizer(
        [e.question.lstrip() for e in examples],
        [e.context for e in examples],
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        **options,
    )


def tokenize_for_training(
    examples: list[QAExample], tokenizer, *, max_length: int, stride: int, batch_size: int = 2000
) -> Windows:
    """Tokenise question/context pairs into overlapping windows; targets are [CLS] (0) when absent."""
    input_ids, token_types, starts, ends = [], [], [], []
    for offset in range(0, len(examples), batch_size):
        chunk = examples[offset : offset + batch_size]
        encoded = encode_examples(tokenizer, chunk, max_length=max_length, stride=stride)
        for feature, example_index in enumerate(encoded["overflow_to_sample_mapping"]):
            example = chunk[example_index]
            offsets = encoded["offset_mapping"][feature]
            sequence_ids = encoded.sequence_ids(feature)
            start_token = end_token = 0
            if example.answer_start >= 0:
                char_start = example.answer_start
                char_end = char_start + len(example.answers[0])
                context_tokens = [i for i, s in enumerate(sequence_ids) if s == 1]
                first, last = context_tokens[0], context_tokens[-1]
                if offsets[first][0] <= char_start and offsets[last][1] >= char_end:
                    start_token = first
                    while start_token <= last and offsets[start_token][1] <= char_start:
                        start_token += 1
                    end_token = last
                    while end_token >= first and offsets[end_token][0] >= char_end:
                        end_token -= 1
            input_ids.append(np.asarray(encoded["input_ids"][feature], dtype=np.int32))
            # MPNet-style tokenizers give no segment ids; a zero row keeps Windows one shape for every base.
            types = encoded["token_type_ids"][feature] if "token_type_ids" in encoded else [0] * len(offsets)
            token_types.append(np.asarray(types, dtype=np.int8))
            starts.append(start_token)
            ends.append(end_token)
    return Windows(input_ids, token_types, np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64))


def split_heldout_articles(articles: list[dict], *, count: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Split articles into (train, held-out) by a seeded choice of ``count`` held-out article titles."""
    rng = random.Random(seed)
    heldout_titles = set(rng.sample(sorted(a["title"] for a in articles), count))
    train = [a for a in articles if a["title"] not in heldout_titles]
    heldout = [a for a in articles if a["title"] in heldout_titles]
    return train, heldout
