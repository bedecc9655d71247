"""The near-miss question makers of Reader v2's training data (hand-made paragraphs, no ../shared)."""

from __future__ import annotations

import random

import pytest

from tests.fakes import squad_article
from training.negatives import (
    ALL_MAKERS,
    ANTONYMS,
    EVENT_SWAPS,
    MAKERS,
    antonym_question,
    event_question,
    exclusive_question,
    make_negative,
    negate_question,
    neighbour_question,
)
from training.squad_data import examples_from_articles

PARAGRAPH = (
    "Mosul is the largest city in northern Iraq, with a population of about 2 million. "
    "Government forces fled the city in June, while Baghdad, the capital, lies 400 kilometres to the south, "
    "and Kirkuk is held by the peshmerga."
)


def test_negation_goes_after_the_questions_own_auxiliary():
    rng = random.Random(0)
    assert negate_question("Which city was the largest in northern Iraq?", PARAGRAPH, rng) == (
        "Which city was not the largest in northern Iraq?"
    )
    assert negate_question("How many people have fled the city?", PARAGRAPH, rng) == (
        "How many people have not fled the city?"
    )
    assert negate_question("Mosul was the largest city?", PARAGRAPH, rng) is None  # not a wh-question
    assert negate_question("Which city was not taken?", PARAGRAPH, rng) is None  # already negative
    assert negate_question("Who was not there?", "He was not there.", rng) is None  # the paragraph negates


def test_event_swaps_only_when_the_paragraph_cannot_answer_the_counterpart():
    paragraph = "A car bomb killed 24 people near a funeral in Baghdad on Sunday, police said."
    assert event_question("How many people were killed by the car bomb?", paragraph, random.Random(0)) == (
        "How many people were wounded by the car bomb?"
    )
    # "injured" answers "wounded": no swap when the paragraph has it.
    both = paragraph + " Another 60 were injured."
    assert event_question("How many people were killed by the car bomb?", both, random.Random(0)) is None
    assert event_question("Where did the car bomb explode?", paragraph, random.Random(0)) is None
    sale = "The $700 million deal involves the sale of 5,000 missiles to Iraq."
    assert event_question("How many missiles were sold to Iraq?", sale, random.Random(0)) == (
        "How many missiles were bought to Iraq?"
    )
    assert event_question("How many missiles were bought by Iraq?", sale, random.Random(0)) is None
    # A swap never lands on its own word, and a paragraph holding the counterpart always blocks it.
    for word, (counterpart, stems) in EVENT_SWAPS.items():
        assert counterpart != word and any(counterpart.startswith(stem) for stem in stems), word
    assert make_negative("neg_event", "How many people were killed?", paragraph, (), 0, random.Random(0)) == (
        "How many people were wounded?"
    )
    assert set(MAKERS) < set(ALL_MAKERS)


def test_antonyms_only_when_the_paragraph_never_uses_them():
    for seed in range(10):
        changed = antonym_question("What is the largest city in northern Iraq?", PARAGRAPH, random.Random(seed))
        assert changed in ("What is the smallest city in northern Iraq?", "What is the largest city in southern Iraq?")
    # "south" is in the paragraph, so "north" cannot become it
    assert antonym_question("Which city lies north of Baghdad?", PARAGRAPH, random.Random(0)) is None
    assert all(ANTONYMS[ANTONYMS[w]] in (w, ANTONYMS[w]) or ANTONYMS[w] in ANTONYMS for w in ANTONYMS)


def test_neighbour_entity_is_one_the_paragraph_mentions_away_from_the_answer():
    question = "What is the population of Mosul?"
    start = PARAGRAPH.index("about 2 million")
    changed = {
        neighbour_question(question, PARAGRAPH, ("about 2 million",), start, random.Random(seed)) for seed in range(10)
    }
    assert changed == {"What is the population of Baghdad?", "What is the population of Kirkuk?"}
    # No other name in the paragraph: nothing to ask about.
    assert (
        neighbour_question(question, "Mosul has about 2 million people.", ("about 2 million",), 10, random.Random(0))
        is None
    )


def test_exclusive_order_shift_only_when_the_paragraph_has_no_word_for_it():
    assert exclusive_question("Which city fell first?", PARAGRAPH, random.Random(0)) == "Which city fell second?"
    assert exclusive_question("Which city fell first?", "It fell second, after Mosul.", random.Random(0)) is None
    assert exclusive_question("Which city fell?", PARAGRAPH, random.Random(0)) is None


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="neg_negation"):
        make_negative("neg_everything", "Who?", PARAGRAPH, (), -1, random.Random(0))


def test_examples_get_twins_of_the_new_kinds_over_their_own_paragraph():
    questions = [
        ("Which city was the largest in northern Iraq?", "Mosul"),
        ("What is the population of Mosul?", "about 2 million"),
        ("Which city fell first?", "Mosul"),
    ]
    article = squad_article(PARAGRAPH, questions)
    examples = examples_from_articles([article], negative_ratio=0.0, rng=random.Random(3), perturb_ratio=1.0)
    twins = [e for e in examples if e.kind in MAKERS]
    assert len(twins) == len(questions)  # every question here has at least one applicable change
    for twin in twins:
        assert twin.context == PARAGRAPH and twin.answers == () and twin.answer_start == -1
        source = next(q for i, (q, _) in enumerate(questions) if twin.qid == f"q{i}_{twin.kind}")
        assert twin.question != source
    assert [e.kind for e in examples].count("pos") == len(questions)
