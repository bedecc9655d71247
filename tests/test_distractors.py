"""Look-alike distractor sentences and paraphrase repeats of the Reader v3 training data (hand-made
paragraphs, no ../shared)."""

from __future__ import annotations

import random

from tests.fakes import squad_article
from training.distractors import change_what_is_asked, distractor_examples, fake_answer, other_number
from training.squad_data import examples_from_articles, is_paraphrased

PARAGRAPH = (
    "Amid the fighting, the Pentagon approved a large increase in arms for Iraq. "
    "In 2014 the United States sold 5,000 Hellfire missiles to Iraq for 700 million dollars. "
    "Most of them are fired from helicopters."
)
QUESTION = "How many Hellfire missiles did the United States sell to Iraq in 2014?"
NAMES = ["Jordan", "Kuwait", "Turkey", "Ankara", "Cairo", "Oman"]


def _made(seed: int):
    return distractor_examples(QUESTION, PARAGRAPH, ("5,000",), PARAGRAPH.index("5,000"), NAMES, random.Random(seed))


def test_distractor_keeps_the_answer_and_adds_a_look_alike_that_states_another_fact():
    for seed in range(10):
        made = _made(seed)
        assert made is not None
        (context, start), unanswerable = made
        assert context[start : start + len("5,000")] == "5,000"
        assert context.count("5,000") == 1  # the look-alike carries another number
        added = [s.strip(". ") for s in context.split(". ") if s.strip(". ") not in PARAGRAPH]
        assert len(added) == 1  # one look-alike sentence, the rest of the paragraph as it was
        look_alike = added[0]
        assert "missiles to" in look_alike and "700 million dollars" in look_alike
        # Besides the fake number, one thing the question asks about changed: the year or a shared name.
        assert any(word not in look_alike for word in ("2014", "United States", "Iraq", "Hellfire"))
        assert "5,000" not in unanswerable and look_alike in unanswerable


def test_the_unanswerable_twin_keeps_the_other_sentences_in_order():
    for seed in range(10):
        (with_distractor, _), unanswerable = _made(seed)
        # The twin is the first context with the answer's sentence taken out, nothing else.
        answer_sentence = "In 2014 the United States sold 5,000 Hellfire missiles to Iraq for 700 million dollars."
        assert " ".join(with_distractor.replace(answer_sentence, "").split()) == " ".join(unanswerable.split())


def test_no_distractor_when_the_sentence_shares_nothing_changeable_with_the_question():
    question = "How many missiles were part of the deal?"
    assert (
        distractor_examples(question, PARAGRAPH, ("5,000",), PARAGRAPH.index("5,000"), NAMES, random.Random(0)) is None
    )


def test_no_distractor_for_a_one_sentence_paragraph_or_a_phrase_answer():
    sentence = "In 2014 the United States sold 5,000 Hellfire missiles to Iraq."
    assert distractor_examples(QUESTION, sentence, ("5,000",), sentence.index("5,000"), NAMES, random.Random(0)) is None
    answer = "fired from helicopters"
    question = "How are most of the Hellfire missiles fired in Iraq?"
    assert distractor_examples(question, PARAGRAPH, (answer,), PARAGRAPH.index(answer), NAMES, random.Random(0)) is None


def test_no_distractor_when_the_answer_is_mentioned_again():
    start = PARAGRAPH.index("5,000")
    for paragraph in (
        PARAGRAPH + " The 5,000 missiles arrive next year.",  # in another sentence
        PARAGRAPH.replace("dollars.", "dollars, after 5,000 rifles."),  # in its own sentence
    ):
        for seed in range(5):
            assert distractor_examples(QUESTION, paragraph, ("5,000",), start, NAMES, random.Random(seed)) is None
    # any of the answers counts, not only the first
    other = PARAGRAPH.replace("fired from helicopters", "flown by 5000 crews")
    for seed in range(5):
        assert distractor_examples(QUESTION, other, ("5,000", "5000"), start, NAMES, random.Random(seed)) is None


def test_the_changed_item_is_gone_from_the_look_alike():
    sentence = "The head of the International Olympic Committee said athletes at Olympic venues could be expelled."
    question = "Who heads the International Olympic Committee?"
    for seed in range(10):
        changed = change_what_is_asked(sentence, question, (0, 8), sentence, ["Cairo", "Oman"], random.Random(seed))
        # "Olympic venues" -> "Cairo venues" would leave the committee the question asks about in place
        assert changed is None or "International Olympic Committee" not in changed


def test_numbers_are_shared_as_whole_numbers_and_always_change():
    sentence = "They got 7,000 missiles for 20 million dollars that year."
    question = "How many missiles did they get in 2014?"
    assert change_what_is_asked(sentence, question, (9, 14), sentence, [], random.Random(0)) is None  # 20 ≠ 2014
    sentence = "On May 18, CCTV-1 hosted a program called Panzhihua."
    question = "What was the program that CCTV-1 hosted?"
    for seed in range(20):
        changed = change_what_is_asked(sentence, question, (42, 51), sentence, [], random.Random(seed))
        assert changed is None or "CCTV-1 " not in changed


def test_two_sided_verbs_are_never_swapped():
    sentence = "Spain won the final against the Netherlands in Johannesburg."
    question = "Which team won the final?"
    assert change_what_is_asked(sentence, question, (0, 5), sentence, [], random.Random(0)) is None


def test_a_changed_name_never_equals_the_fake_answer():
    sentence = "That year Iraq sold the oil to Jordan."
    for seed in range(20):
        changed = change_what_is_asked(
            sentence,
            "To which country did Iraq sell oil?",
            (31, 37),
            sentence,
            ["Oman", "Cairo"],
            random.Random(seed),
            avoid="Oman",
        )
        assert changed is not None and "Oman" not in changed


def test_event_verbs_swap_only_when_neither_paragraph_nor_question_names_the_counterpart():
    sentence = "Iraq sold the oil to Jordan."
    question = "Who sold the oil?"
    changed = change_what_is_asked(sentence, question, (0, 4), sentence, [], random.Random(0))
    assert changed == "Iraq bought the oil to Jordan."
    assert change_what_is_asked(sentence, "Who sold or bought the oil?", (0, 4), sentence, [], random.Random(0)) is None
    context = sentence + " Turkey buys it later."
    assert change_what_is_asked(sentence, question, (0, 4), context, [], random.Random(0)) is None


def test_fake_answers_keep_the_answers_shape():
    rng = random.Random(4)
    assert fake_answer("5,000 missiles", PARAGRAPH, NAMES, rng) != "5,000 missiles"
    assert str(fake_answer("5,000 missiles", PARAGRAPH, NAMES, rng)).endswith(" missiles")
    assert fake_answer("Kuwait", PARAGRAPH, NAMES, rng) in NAMES
    assert fake_answer("fired from helicopters", PARAGRAPH, NAMES, rng) is None
    years = {other_number("2014", random.Random(seed)) for seed in range(20)}
    assert "2014" not in years and all(len(y) == 4 for y in years)


def test_paraphrase_check_counts_the_questions_words_found_in_the_answers_sentence():
    start = PARAGRAPH.index("5,000")
    # 4 of 6 content words (country, got, 5, 000, hellfire, missiles) are in the sentence
    assert not is_paraphrased("Which country got 5,000 Hellfire missiles?", PARAGRAPH, start, start + 5)
    # 1 of 6 (missiles; washington, agree, sell, baghdad, many are not): asked in other words
    assert is_paraphrased("How many missiles did Washington agree to sell to Baghdad?", PARAGRAPH, start, start + 5)
    # the other sentences of the paragraph do not count
    assert is_paraphrased("How many arms for Iraq did Washington sell?", PARAGRAPH, start, start + 5)
    assert not is_paraphrased("Who?", PARAGRAPH, start, start + 5)  # nothing asked in any words


def _article(questions):
    return squad_article(PARAGRAPH, questions)


def test_examples_get_distractor_pairs_with_valid_targets():
    article = _article([(QUESTION, "5,000"), ("How are most of them fired?", "from helicopters")])
    examples = examples_from_articles(
        [article], negative_ratio=0.0, rng=random.Random(2), names=NAMES, distractor_ratio=1.0
    )
    kinds = [e.kind for e in examples]
    assert kinds.count("pos_distractor") == kinds.count("neg_distractor") == 1  # the phrase answer has none
    positive = next(e for e in examples if e.kind == "pos_distractor")
    assert positive.context[positive.answer_start :].startswith(positive.answers[0])
    negative = next(e for e in examples if e.kind == "neg_distractor")
    assert "5,000" not in negative.context and negative.context != PARAGRAPH
    plain = examples_from_articles([article], negative_ratio=0.0, rng=random.Random(2), names=NAMES)
    assert [e.kind for e in plain] == ["pos", "pos"]


def test_only_paraphrased_questions_are_repeated():
    article = _article(
        [
            ("Who sold 5,000 Hellfire missiles to Iraq?", "the United States"),
            ("How many missiles did Washington agree to sell to Baghdad?", "5,000"),
        ]
    )
    examples = examples_from_articles([article], negative_ratio=0.0, rng=random.Random(0), paraphrase_ratio=1.0)
    repeats = [e for e in examples if e.kind == "pos_paraphrase"]
    assert [e.qid for e in repeats] == ["q1_pos_paraphrase"]
    assert repeats[0].context == PARAGRAPH and repeats[0].answers == ("5,000",)
