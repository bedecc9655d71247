"""The development-set threshold fit scores each threshold exactly as the pipeline would answer with it."""

from __future__ import annotations

import math

from qa.pipeline import QuestionAnswerer
from tests.fakes import FakeReader
from training.calibrate_dev import answered_share, collect, far_questions, fit_confidence, score

QUESTION = "How many Hellfire missiles were delivered?"
OTHER = "How many Apache helicopters were delivered?"  # nothing in the corpus answers it


def _cascade(small_index, fake_encoder, threshold):
    corpus, index_dir = small_index
    return QuestionAnswerer(
        index_dir=index_dir,
        corpus_dir=corpus,
        encoder=fake_encoder,
        reader=FakeReader({QUESTION: [("5,000", 3.0)], OTHER: [("450", 1.0)]}, stop_margin=8.0),
        rereader=FakeReader({QUESTION: [("5,000", 3.0)], OTHER: [("450", 2.0)]}, threshold=threshold),
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
