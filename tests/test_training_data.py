"""Synthetic unanswerable examples for reader training (no ../shared: small hand-made articles)."""

from __future__ import annotations

import random
import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from embeddings.documents import MONTHS
from embeddings.encoder import packaged_minilm_dir
from qa.questions import question_dates
from training.squad_data import (
    QAExample,
    can_take_a_date,
    drop_answer_sentences,
    example_titles,
    examples_from_articles,
    name_pool,
    swap_question_entity,
    tokenize_for_training,
    with_title_headers,
)
from training.train_reader import evaluate_heldout

CONTEXT = (
    "Nikola Tesla moved to Paris in 1882 to work for the Continental Edison Company. "
    "Two years later he sailed to New York with a letter of recommendation."
)


def article(context: str, question: str, answer: str) -> dict:
    return {
        "title": "Tesla",
        "paragraphs": [
            {
                "context": context,
                "qas": [
                    {
                        "id": "q1",
                        "question": question,
                        "answers": [{"text": answer, "answer_start": context.index(answer)}],
                    }
                ],
            }
        ],
    }


def test_swap_replaces_a_shared_name_with_one_the_context_never_mentions():
    names = ["Berlin", "Vienna", "Paris", "Edison"]
    for seed in range(20):
        swapped = swap_question_entity(
            "In what year did Tesla move to Paris?", CONTEXT, ("1882",), names, random.Random(seed)
        )
        assert swapped is not None and swapped != "In what year did Tesla move to Paris?"
        new_words = set(swapped.rstrip("?").split()) - {"In", "what", "year", "did", "move", "to", "Tesla", "Paris"}
        assert len(new_words) == 1
        (new_word,) = new_words
        assert new_word.lower() not in CONTEXT.lower()


def test_swap_changes_a_year_to_one_absent_from_the_context():
    for seed in range(20):
        swapped = swap_question_entity("Where did he move in 1882?", CONTEXT, ("Paris",), [], random.Random(seed))
        assert swapped is not None
        year = swapped.split()[-1].rstrip("?")
        assert year.isdigit() and len(year) == 4 and year != "1882" and year not in CONTEXT


def test_swap_never_touches_the_answer_or_the_first_word():
    assert (
        swap_question_entity("Paris is where Tesla moved?", CONTEXT, ("Tesla",), ["Berlin"], random.Random(0)) is None
    )
    assert swap_question_entity("What did he do next?", CONTEXT, ("sailed",), ["Berlin"], random.Random(0)) is None


def test_examples_include_entity_swapped_negatives_with_a_null_target():
    articles = [article(CONTEXT, "In what year did Tesla move to Paris?", "1882")]
    examples = examples_from_articles(
        articles, negative_ratio=0.0, rng=random.Random(1), swap_ratio=1.0, names=["Berlin", "Vienna"]
    )
    kinds = [e.kind for e in examples]
    assert kinds == ["pos", "neg_swap"]
    negative = examples[1]
    assert negative.answer_start == -1 and negative.answers == () and negative.context == CONTEXT
    assert negative.question != examples[0].question


def test_article_swaps_take_a_name_from_the_questions_own_story():
    two_paragraphs = article(CONTEXT, "In what year did Tesla move to Paris?", "1882")
    two_paragraphs["paragraphs"].append(
        {"context": "Later in life he lived in the Hotel New Yorker, near the offices of Westinghouse.", "qas": []}
    )
    global_names = ["Berlin", "Vienna", "Prague"]
    swapped_names = set()
    for seed in range(20):
        examples = examples_from_articles(
            [two_paragraphs],
            negative_ratio=0.0,
            rng=random.Random(seed),
            swap_ratio=1.0,
            names=global_names,
            article_swap_ratio=1.0,
        )
        [negative] = [e for e in examples if e.kind == "neg_swap"]
        swapped_names |= (
            set(negative.question.rstrip("?").split())
            - set(CONTEXT.split())
            - {"In", "what", "year", "did", "move", "to"}
        )
    # Only names of the article that the question's own paragraph never mentions (not the global ones).
    assert swapped_names and swapped_names <= {"Hotel", "New", "Yorker", "Westinghouse"}, swapped_names


def test_without_swap_ratio_no_swapped_negatives_are_made():
    articles = [article(CONTEXT, "In what year did Tesla move to Paris?", "1882")]
    examples = examples_from_articles(articles, negative_ratio=0.0, rng=random.Random(1))
    assert [e.kind for e in examples] == ["pos"]


def test_name_pool_skips_sentence_initial_words():
    pool = name_pool([article(CONTEXT, "In what year did Tesla move to Paris?", "1882")])
    assert "Paris" in pool and "Continental Edison Company" in pool and "New York" in pool
    assert "Nikola Tesla" not in pool and "Two" not in pool


def test_dropping_the_answer_sentence_removes_every_answer_mention():
    start = CONTEXT.index("1882")
    dropped = drop_answer_sentences(CONTEXT, start, start + 4, ("1882",))
    assert dropped is not None and "1882" not in dropped and "New York" in dropped


def test_calibration_headers_name_each_examples_own_article():
    second = "Thomas Edison opened his Menlo Park laboratory in 1876 in New Jersey. It had many workers."
    articles = [
        {
            "title": "Nikola_Tesla",
            "paragraphs": [
                {
                    "context": CONTEXT,
                    "qas": [
                        {
                            "id": "Nikola_Tesla_0_0",
                            "question": "In what year did Tesla move to Paris?",
                            "answers": [{"text": "1882", "answer_start": CONTEXT.index("1882")}],
                        }
                    ],
                },
                {
                    "context": second,
                    "qas": [
                        {
                            "id": "Nikola_Tesla_1_0",
                            "question": "When did Edison open Menlo Park?",
                            "answers": [{"text": "1876", "answer_start": second.index("1876")}],
                        }
                    ],
                },
            ],
        },
        {
            "title": "Other",
            "paragraphs": [
                {
                    "context": second,
                    "qas": [
                        {
                            "id": "x_neg",
                            "question": "Where was Menlo Park?",
                            "answers": [{"text": "New Jersey", "answer_start": second.index("New Jersey")}],
                        }
                    ],
                },
            ],
        },
    ]
    examples = examples_from_articles(
        articles, negative_ratio=1.0, rng=random.Random(0), swap_ratio=1.0, names=["Berlin", "Vienna"]
    )
    assert {e.kind for e in examples} >= {"pos", "neg_other", "neg_swap"}
    titles = example_titles(examples, articles)
    for example, title in zip(examples, titles, strict=True):
        assert title == ("Nikola Tesla" if example.qid.startswith("Nikola_Tesla") else "Other")


def test_title_headers_prefix_the_context_and_keep_the_answer_target():
    articles = [article(CONTEXT, "In what year did Tesla move to Paris?", "1882")]
    examples = examples_from_articles(articles, negative_ratio=1.0, rng=random.Random(0))
    assert next(e.kind for e in examples) == "pos" and len(examples) == 2
    assert with_title_headers(examples, articles, ratio=0.0, rng=random.Random(0)) == examples
    headed = with_title_headers(examples, articles, ratio=1.0, rng=random.Random(0))
    for before, after in zip(examples, headed, strict=True):
        assert after.context == "Tesla\n" + before.context
        assert (after.qid, after.question, after.answers, after.kind) == (
            before.qid,
            before.question,
            before.answers,
            before.kind,
        )
    positive, negative = headed
    assert positive.context[positive.answer_start : positive.answer_start + 4] == "1882"
    assert negative.answer_start == -1

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(packaged_minilm_dir())
    windows = tokenize_for_training(headed, tokenizer, max_length=64, stride=16)
    targets = [
        tokenizer.decode(ids[s : e + 1])
        for ids, s, e in zip(windows.input_ids, windows.start_positions, windows.end_positions, strict=True)
    ]
    assert "1882" in targets and all(t in ("1882", "[CLS]") for t in targets)


class _PrefersYears(torch.nn.Module):
    """A stand-in QA model: start and end logits high on tokens "1882" (or on [CLS] when told to abstain)."""

    def __init__(self, year_id: int, *, abstain: bool = False) -> None:
        super().__init__()
        self.year_id, self.abstain = year_id, abstain

    def forward(self, *, input_ids, token_type_ids, attention_mask):
        logits = torch.where(input_ids == self.year_id, 5.0, 0.0)
        if self.abstain:
            logits[:, 0] = 20.0
        return SimpleNamespace(start_logits=logits, end_logits=logits.clone())


UNDATED = "Tesla moved to Paris to work for the Continental Edison Company. He later sailed to New York."


def test_dated_headers_carry_a_dateline_and_dated_questions_keep_their_label():
    articles = [article(UNDATED, "Which company did Tesla work for in Paris?", "the Continental Edison Company")]
    examples = examples_from_articles(articles, negative_ratio=1.0, rng=random.Random(0))
    asked = set()
    for seed in range(60):
        dated = with_title_headers(
            examples, articles, ratio=1.0, rng=random.Random(seed), date_ratio=1.0, question_date_ratio=1.0
        )
        for before, after in zip(examples, dated, strict=True):
            header, _, context = after.context.partition("\n")
            match = re.fullmatch(r"Tesla \((\d+) (\w+) (\d{4})\)", header)
            assert match and context == before.context
            year, month = int(match[3]), MONTHS.index(match[2]) + 1
            assert after.question.startswith(before.question.removesuffix("?") + " in ")
            assert after.question.endswith("?") and after.question.count("?") == 1
            years, months = question_dates(after.question)
            previous = (year - 1, 12) if month == 1 else (year, month - 1)
            # The dateline's year, its month, or the month before it (as news reports last month's events).
            assert (years, months) in [({year}, set()), ({year}, {month}), ({previous[0]}, {previous[1]})]
            asked.add("year" if not months else "month" if months == {month} else "month before")
            assert (after.qid, after.answers, after.kind) == (before.qid, before.answers, before.kind)
            if after.answers:
                start = after.answer_start
                assert after.context[start : start + len(after.answers[0])] == after.answers[0]
    assert asked == {"year", "month", "month before"}


def test_questions_over_dated_text_keep_their_words_under_a_dated_header():
    articles = [article(CONTEXT, "Which company did Tesla work for?", "the Continental Edison Company")]
    examples = examples_from_articles(articles, negative_ratio=0.0, rng=random.Random(0))
    (dated,) = with_title_headers(
        examples, articles, ratio=1.0, rng=random.Random(0), date_ratio=1.0, question_date_ratio=1.0
    )
    assert re.match(r"Tesla \(\d+ \w+ \d{4}\)\n", dated.context)  # a dateline, yet the passage says 1882:
    assert dated.question == examples[0].question  # so the question is not narrowed to the dateline's year


def test_without_date_ratios_headers_are_the_title_alone():
    articles = [article(UNDATED, "Which company did Tesla work for in Paris?", "the Continental Edison Company")]
    examples = examples_from_articles(articles, negative_ratio=1.0, rng=random.Random(0))
    plain = with_title_headers(examples, articles, ratio=1.0, rng=random.Random(0))
    assert [e.context.partition("\n")[0] for e in plain] == ["Tesla"] * len(examples)
    assert [e.question for e in plain] == [e.question for e in examples]


@pytest.mark.parametrize(
    "question",
    [
        "Which company did Tesla work for in 1882?",
        "Which ruler made an alliance with the Han in AD 90?",
        "Which city fell in 800 BC?",
        "Which band was popular in the '90s?",
        "Which empire ruled in the 5th century?",
        "When did Tesla move to Paris?",
        "What month was the livestock slaughtered?",
        "How long ago did the period end?",
        "At what age did Tesla leave?",
        "In which years did Tesla work there?",
        "Name the company Tesla worked for.",
        'Which company did Tesla work for?"',
    ],
)
def test_questions_that_place_or_ask_about_time_or_lack_a_question_mark_are_not_dated(question):
    assert not can_take_a_date(question, UNDATED)


def test_a_question_over_undated_text_can_take_a_date_unless_its_passage_or_title_is_dated():
    question = "Which company did Tesla work for?"
    assert can_take_a_date(question, UNDATED)
    assert not can_take_a_date(question, CONTEXT)  # the passage says 1882
    assert not can_take_a_date(question, UNDATED + " It was the 19th century.")
    assert not can_take_a_date(question, UNDATED, title="1882 in science")


def test_heldout_evaluation_decodes_with_the_readers_decoder():
    tokenizer = AutoTokenizer.from_pretrained(packaged_minilm_dir())
    answerable = QAExample(
        "q1", "In what year did Tesla move to Paris?", CONTEXT, ("1882",), CONTEXT.index("1882"), "pos"
    )
    unanswerable = QAExample("q1_neg", "In what year did Tesla move to Rome?", CONTEXT, (), -1, "neg_swap")
    model = _PrefersYears(tokenizer.get_vocab()["1882"])
    scores = evaluate_heldout(model, tokenizer, [answerable, unanswerable], max_length=64, stride=16)
    assert scores is not None
    assert (scores["has_ans_em"], scores["n_pos"], scores["n_neg"]) == (100.0, 1, 1)
    assert scores["no_ans_acc@0"] == 0.0  # the span beats [CLS]: the model answers the unanswerable one
    abstaining = evaluate_heldout(
        _PrefersYears(tokenizer.get_vocab()["1882"], abstain=True),
        tokenizer,
        [answerable, unanswerable],
        max_length=64,
        stride=16,
    )
    assert abstaining is not None
    assert (abstaining["no_ans_acc@0"], abstaining["has_ans_em"]) == (100.0, 100.0)  # best span still scored
    assert model.training  # evaluation puts the model back in training mode


def test_threshold_weights_answerable_and_unanswerable_questions_equally():
    from training.export_reader import choose_threshold

    # 2 answerable questions (margin 4, right) and 18 unanswerable: 5 with margin 5, 13 with margin 0.
    margins = np.array([4.0, 4.0] + [5.0] * 5 + [0.0] * 13)
    f1s = np.array([1.0, 1.0] + [0.0] * 18)
    answerable = np.array([True, True] + [False] * 18)
    threshold, score = choose_threshold(margins, f1s, answerable)
    # Counted question by question, abstaining on everything would win (18 of 20); weighted equally, answering
    # above 0 keeps both right answers and 13 of 18 abstentions: (1 + 13/18) / 2.
    assert threshold == 0.0 and score == pytest.approx((1 + 13 / 18) / 2)


def test_stop_margin_rules_bound_changed_or_worse_answers():
    from training.calibrate_stop import choose_stop_margin

    sweep = [
        {"stop_margin": 5.0, "changed": 0.04, "worse": 0.02, "f1_drop": 0.1},
        {"stop_margin": 5.5, "changed": 0.035, "worse": 0.01, "f1_drop": -0.2},
        {"stop_margin": 7.0, "changed": 0.01, "worse": 0.0, "f1_drop": 0.3},
        {"stop_margin": 7.5, "changed": 0.006, "worse": 0.0, "f1_drop": 0.1},
    ]
    strict = choose_stop_margin(sweep, max_changed=0.01, max_worse=1.0, max_f1_drop=0.25)
    assert strict is not None and strict["stop_margin"] == 7.5  # 7.0 changes few answers but loses F1
    worse = choose_stop_margin(sweep, max_changed=1.0, max_worse=0.01, max_f1_drop=0.25)
    assert worse is not None and worse["stop_margin"] == 5.5
    assert choose_stop_margin(sweep, max_changed=0.0, max_worse=0.0, max_f1_drop=0.0) is None


def test_each_reader_folder_gets_its_own_stop_margin_report(tmp_path):
    from qa.defaults import DEFAULT_READER_DIR
    from training.calibrate_stop import default_report

    assert default_report(DEFAULT_READER_DIR).name == "stop_margin.json"
    assert default_report(tmp_path / "rereader").name == "stop_margin_rereader.json"
