"""The development-set threshold fit scores each threshold exactly as the pipeline would answer with it."""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest

from qa.pipeline import QuestionAnswerer
from tests.fakes import FakeReader
from training.calibrate_dev import (
    SquadGuard,
    answered_share,
    collect,
    cross_check,
    far_questions,
    fit_confidence,
    score,
)

QUESTION = "How many Hellfire missiles were delivered?"
OTHER = "How many Apache helicopters were delivered?"  # nothing in the corpus answers it


def _cascade(small_index, fake_encoder, threshold, other_margin=2.0):
    corpus, index_dir = small_index
    return QuestionAnswerer(
        index_dir=index_dir,
        corpus_dir=corpus,
        encoder=fake_encoder,
        reader=FakeReader({QUESTION: [("5,000", 3.0)], OTHER: [("450", 1.0)]}, stop_margin=8.0),
        rereader=FakeReader({QUESTION: [("5,000", 3.0)], OTHER: [("450", other_margin)]}, threshold=threshold),
    )


def test_each_threshold_scores_what_the_pipeline_answers_with_it(small_index, fake_encoder):
    questions: list[dict] = [
        {"question": QUESTION, "answers": ["5,000"]},
        {"question": OTHER, "answers": [], "answerable": False},
    ]
    base = _cascade(small_index, fake_encoder, 0.0)
    records = collect(base, questions, base.rereader)
    assert all(r.fitted_reader_decides for r in records)  # the first reader is never clearly ahead (3 < 8)
    for threshold in (-1.0, 1.5, 2.5, 3.5):
        pipeline = _cascade(small_index, fake_encoder, threshold)
        replies = [pipeline.answer(q["question"]).text for q in questions]
        row = score(records, threshold, fixed_threshold=0.0)
        assert row["answered"] == float(replies[0] is not None)
        assert row["HasAns_F1"] == float(replies[0] == "5,000")
        assert row["NoAns"] == float(replies[1] is None)
    assert score(records, 2.5, 0.0) | {"threshold": 0} == {
        "threshold": 0,
        "F1": 1.0,
        "HasAns_F1": 1.0,
        "answered": 1.0,
        "NoAns": 1.0,
        "balanced": 1.0,
    }
    slope, intercept = fit_confidence(records)
    assert math.isfinite(slope) and math.isfinite(intercept) and slope > 0  # the right answer has the larger margin


def test_far_misses_are_the_other_sets_answerable_questions_and_count_what_would_be_answered(small_index, fake_encoder):
    other_set: list[dict] = [
        {"question": QUESTION, "answers": ["5,000"]},
        {"question": OTHER, "answers": [], "answerable": False},
    ]
    far = far_questions(other_set)
    assert far == [{"question": QUESTION, "answers": [], "answerable": False}]
    base = _cascade(small_index, fake_encoder, 0.0)
    records = collect(base, far, base.rereader)
    assert records[0].answers == ()  # asked over a corpus that never mentions it: nothing is right
    assert answered_share(records, 2.5, fixed_threshold=0.0) == 1.0  # 3 > 2.5: it would be answered
    assert answered_share(records, 3.5, fixed_threshold=0.0) == 0.0
    assert score(records, 2.5, fixed_threshold=0.0)["NoAns"] == 0.0


def test_the_cross_check_chooses_on_one_set_alone_and_scores_the_other(small_index, fake_encoder):
    questions: list[dict] = [
        {"question": QUESTION, "answers": ["5,000"]},
        {"question": OTHER, "answers": [], "answerable": False},
    ]
    easy = _cascade(small_index, fake_encoder, 0.0)  # the near miss reads 2.0, the answer 3.0
    hard = _cascade(small_index, fake_encoder, 0.0, other_margin=4.0)  # the near miss reads above the answer
    per_set = [collect(easy, questions, easy.rereader), collect(hard, questions, hard.rereader)]
    far = [collect(easy, far_questions(questions), easy.rereader)] * 2  # a far miss read at 3.0
    by_set = {(0.0, 0.0, None): (per_set, far)}
    lenient = cross_check(by_set, ["easy", "hard"], 0.0, argparse.Namespace(objective="balanced", max_far_answered=1.0))
    # Chosen on "easy": 2.0, the first threshold that answers 3.0 and declines 2.0; on "hard" the near miss
    # (4.0) is answered there.
    row = lenient["chosen on easy, scored on hard"]
    assert row["threshold"] == 2.0 and row["fit_balanced"] == 1.0
    assert (row["HasAns_F1"], row["NoAns"], row["balanced"], row["far_answered"]) == (1.0, 0.0, 0.5, 1.0)
    # Chosen on "hard": no threshold tells its two questions apart (0.5 at best); the first is -40.
    assert lenient["chosen on hard, scored on easy"]["fit_balanced"] == 0.5
    # The fit set's own far misses bind the choice: none may be answered, so 3.0 (the far miss) is declined.
    strict = cross_check(by_set, ["easy", "hard"], 0.0, argparse.Namespace(objective="balanced", max_far_answered=0.0))
    row = strict["chosen on easy, scored on hard"]
    assert row["threshold"] == 3.0 and row["far_answered"] == 0.0 and row["HasAns_F1"] == 0.0
    assert cross_check(by_set, ["one"], 0.0, argparse.Namespace(objective="balanced", max_far_answered=1.0)) == {}


def test_the_squad_guard_counts_the_f1_lost_to_abstaining_as_the_overlap_weight_moves_margins():
    # Two right answers (F1 1) at margins 5 and 2 in paragraphs holding all and half of the question's words,
    # one wrong (F1 0) at 4.
    guard = SquadGuard(np.array([5.0, 2.0, 4.0]), np.array([1.0, 1.0, 0.0]), np.array([1.0, 0.5, 1.0]))
    assert guard.loss(-10.0, 0.0) == 0.0  # everything answered
    assert guard.loss(3.0, 0.0) == pytest.approx(100 / 3)  # 2 is declined: one right answer of three lost
    assert guard.loss(0.0, -4.0) == pytest.approx(100 / 3)  # 5 - 4 = 1 stays, 2 - 2 = 0 is declined
    assert guard.loss(0.0, -6.0) == pytest.approx(200 / 3)  # both right answers declined
