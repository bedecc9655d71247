"""The answer() contract with a fake reader: citations, abstention, dedup, dated alternatives, errors."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import pytest

import qa
from embeddings.index import build_index
from qa.pipeline import QuestionAnswerer
from qa.questions import question_dates
from qa.reader import ReaderModel
from qa.reading import date_bonus, tidy_span, whole_words
from qa.windows import reading_windows
from tests.fakes import FakeReader

QUESTION = "How many Hellfire missiles were delivered?"
OPEN_QUESTION = "Which Hellfire missiles were delivered?"  # any kind of answer fits it
MONTHS = "January February March April May June July August September October November December".split()


def _answerer(small_index, fake_encoder, answers, **kwargs):
    corpus, index_dir = small_index
    return QuestionAnswerer(
        index_dir=index_dir, corpus_dir=corpus, encoder=fake_encoder, reader=FakeReader(answers, **kwargs)
    )


def test_answer_carries_a_checkable_citation(small_index, fake_encoder):
    answerer = _answerer(small_index, fake_encoder, {QUESTION: [("5,000", 6.0)]})
    result = answerer.answer(QUESTION)
    assert result.text == "5,000" and 0.0 <= result.score <= 1.0
    citation = result.citations[0]
    assert citation.passage[citation.start : citation.end] == "5,000"
    assert citation.doc_id == "missiles.txt" and citation.title == "US boosts missile sales to Iraq"
    assert citation.date == "2014-08-01"
    document = answerer.index.documents[citation.doc_id]
    assert document.text[citation.doc_start + citation.start : citation.doc_start + citation.end] == "5,000"
    assert citation.passage in document.text
    assert result.passages and result.passages[0].rank == 0


def test_answer_and_citation_are_frozen(small_index, fake_encoder):
    result = _answerer(small_index, fake_encoder, {QUESTION: [("5,000", 6.0)]}).answer(QUESTION)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.text = "other"
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.citations[0].start = 0


def test_abstains_when_no_span_beats_the_threshold(small_index, fake_encoder):
    result = _answerer(small_index, fake_encoder, {QUESTION: [("5,000", 1.0)]}, threshold=2.0).answer(QUESTION)
    assert result.text is None and result.citations == () and result.alternatives == ()
    assert 0.0 <= result.score <= 1.0
    assert result.passages  # what was looked at is still shown


def test_unknown_question_abstains(small_index, fake_encoder):
    assert _answerer(small_index, fake_encoder, {}).answer("Who won the World Cup?").text is None


def test_duplicates_merge_and_agreement_raises_confidence(small_index, fake_encoder, tmp_path):
    answers = {OPEN_QUESTION: [("Iraq", 1.0)]}
    many = _answerer(small_index, fake_encoder, answers).answer(OPEN_QUESTION, top_k=10)
    assert many.text == "Iraq"
    assert len({c.doc_id for c in many.citations}) == 2  # both articles say it: one answer, two citations
    assert all(a.text != "Iraq" for a in many.alternatives)
    corpus, _ = small_index
    single = tmp_path / "single"
    single.mkdir()
    (single / "missiles.txt").write_bytes((corpus / "missiles.txt").read_bytes())
    build_index(single, tmp_path / "single-index", encoder=fake_encoder)
    one = _answerer((single, tmp_path / "single-index"), fake_encoder, answers).answer(OPEN_QUESTION, top_k=10)
    assert one.text == "Iraq" and {c.doc_id for c in one.citations} == {"missiles.txt"}
    assert many.score > one.score  # the same answer from one article only is less sure


def test_overlapping_spans_are_one_answer(small_index, fake_encoder):
    answers = {QUESTION: [("5,000 missiles", 5.0), ("5,000", 4.0), ("additional 5,000", 3.0)]}
    result = _answerer(small_index, fake_encoder, answers).answer(QUESTION)
    assert result.text == "5,000 missiles"
    assert result.alternatives == ()


def test_other_answers_come_as_alternatives_with_their_citations(small_index, fake_encoder):
    answers = {OPEN_QUESTION: [("5,000", 6.0), ("450", 3.0), ("Barack Obama", 2.0)]}
    result = _answerer(small_index, fake_encoder, answers).answer(OPEN_QUESTION, top_k=10)
    assert result.text == "5,000"
    alternatives = {a.text: a for a in result.alternatives}
    assert {"450", "Barack Obama"} <= set(alternatives)
    obama = alternatives["Barack Obama"].citations[0]
    assert obama.date is None and obama.doc_id == "talks.md"
    assert list(result.alternatives) == sorted(result.alternatives, key=lambda a: -a.score)


def test_reader_calibrated_under_title_lines_reads_each_passage_under_its_dateline(small_index, fake_encoder):
    answerer = _answerer(small_index, fake_encoder, {QUESTION: [("5,000", 6.0)]}, passage_header=True)
    result = answerer.answer(QUESTION, top_k=10)
    (_, passages), headers = answerer.reader.calls[-1], answerer.reader.headers[-1]
    assert len(headers) == len(passages) > 1
    for passage, header in zip(passages, headers, strict=True):
        document = next(d for d in answerer.index.documents.values() if passage in d.text)
        assert header.startswith(document.title)
        if document.date:
            year, month, day = document.date.split("-")
            assert header.endswith(f"({int(day)} {MONTHS[int(month) - 1]} {year})")
    # Offsets stay in the passage: the citation still points at the answer, not into the header.
    citation = result.citations[0]
    assert citation.passage[citation.start : citation.end] == "5,000"


def test_reader_calibrated_without_title_lines_gets_none(small_index, fake_encoder):
    answerer = _answerer(small_index, fake_encoder, {QUESTION: [("5,000", 6.0)]})
    answerer.answer(QUESTION, top_k=10)
    assert set(answerer.reader.headers[-1]) == {""}


def test_question_dates_prefer_the_matching_article(small_index, fake_encoder):
    question = "How many missiles were there in August 2014?"
    answers = {question: [("Barack Obama", 3.0), ("5,000", 2.0)]}
    result = _answerer(small_index, fake_encoder, answers).answer(question, top_k=10)
    assert result.text == "5,000"
    assert question_dates("What happened in December 2013 and 2014?") == ({2013, 2014}, {12})
    assert date_bonus({2014}, {8}, "2014-08-01") > date_bonus({2014}, {6}, "2014-08-01") > 0
    assert date_bonus({2014}, set(), None) == 0.0 == date_bonus(set(), set(), "2014-08-01")


def test_reader_reads_the_question_without_its_article_clause_whose_date_still_counts(small_index, fake_encoder):
    question = "How many missiles were there, per the August 2014 report?"
    answerer = _answerer(small_index, fake_encoder, {"How many missiles were there?": [("5,000", 2.0)]})
    result = answerer.answer(question, top_k=10)
    assert result.text == "5,000"
    assert {asked for asked, _ in answerer.reader.calls} == {"How many missiles were there?"}
    assert result.citations[0].date == "2014-08-01"


@pytest.mark.parametrize(
    ("question", "error"),
    [
        ("", qa.EmptyQuestionError),
        ("   \n\t ", qa.EmptyQuestionError),
        ("?!", qa.EmptyQuestionError),
        ("x" * 1001, qa.QuestionTooLongError),
        (None, qa.QAError),
        (42, qa.QAError),
    ],
)
def test_bad_questions_raise_typed_errors(small_index, fake_encoder, question, error):
    with pytest.raises(error) as raised:
        _answerer(small_index, fake_encoder, {}).answer(question)
    assert str(raised.value)


def test_options_are_keyword_only_and_validated(small_index, fake_encoder):
    answerer = _answerer(small_index, fake_encoder, {QUESTION: [("5,000", 6.0)]})
    with pytest.raises(TypeError):
        answerer.answer(QUESTION, 3)
    with pytest.raises(qa.InvalidOptionError, match="top_k must be a positive whole number"):
        answerer.answer(QUESTION, top_k=0)
    with pytest.raises(qa.InvalidOptionError, match="use one of dense, bm25, hybrid"):
        answerer.answer(QUESTION, mode="fuzzy")
    assert issubclass(qa.InvalidOptionError, qa.USER_ERRORS)  # so the page shows the message, not "went wrong"
    assert answerer.answer(QUESTION, top_k=1, mode="bm25").text == "5,000"


def test_missing_index_message_gives_the_command(tmp_path, fake_encoder):
    answerer = QuestionAnswerer(
        index_dir=tmp_path / "none", corpus_dir=tmp_path, encoder=fake_encoder, reader=FakeReader()
    )
    with pytest.raises(qa.IndexNotBuiltError, match="qa index"):
        answerer.answer(QUESTION)


def test_stale_index_is_refused_with_the_command(small_index, fake_encoder):
    corpus, _ = small_index
    (corpus / "extra.txt").write_text("Extra\n\nA brand new article about oil and gas exports.", encoding="utf-8")
    with pytest.raises(qa.StaleIndexError, match="qa index"):
        _answerer(small_index, fake_encoder, {}).answer(QUESTION)


def test_index_and_reader_load_once(small_index, fake_encoder, monkeypatch):
    import qa.pipeline as pipeline

    loads = []
    real_load = pipeline.load_index

    def counting_load(*args, **kwargs):
        loads.append(1)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(pipeline, "load_index", counting_load)
    answerer = _answerer(small_index, fake_encoder, {QUESTION: [("5,000", 6.0)]})
    for _ in range(3):
        answerer.answer(QUESTION)
    assert len(loads) == 1


def test_answer_serialises_to_json(small_index, fake_encoder):
    import json

    result = _answerer(small_index, fake_encoder, {QUESTION: [("5,000", 6.0), ("450", 3.0)]}).answer(QUESTION)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["text"] == "5,000" and data["citations"][0]["passage"]


def test_rebuilt_index_gives_same_answer(small_index, fake_encoder):
    corpus, index_dir = small_index
    first = _answerer(small_index, fake_encoder, {QUESTION: [("5,000", 6.0)]}).answer(QUESTION)
    build_index(corpus, index_dir, encoder=fake_encoder)
    second = _answerer(small_index, fake_encoder, {QUESTION: [("5,000", 6.0)]}).answer(QUESTION)
    assert first == second


def test_a_how_many_question_never_gets_an_answer_without_a_quantity(small_index, fake_encoder):
    # The reader's best span is a name; the pipeline skips it for the next candidate that is a number.
    answerer = _answerer(small_index, fake_encoder, {QUESTION: [("Hellfire", 9.0), ("5,000", 6.0)]})
    result = answerer.answer(QUESTION)
    assert result.text == "5,000"
    assert all(a.text != "Hellfire" for a in result.alternatives)
    # With no quantity among the candidates it abstains, however strong the name's score.
    assert _answerer(small_index, fake_encoder, {QUESTION: [("Hellfire", 9.0)]}).answer(QUESTION).text is None
    # Other questions keep such answers.
    other = "Which missiles were delivered?"
    assert _answerer(small_index, fake_encoder, {other: [("Hellfire", 9.0)]}).answer(other).text == "Hellfire"


def test_a_span_loses_a_quote_mark_or_bracket_whose_partner_it_does_not_hold():
    text = 'a Western-aligned \u201cthird force\u201d (the FSA), said "no" and left; it \u2018worked\u2019'

    def tidy(span: str) -> str:
        start = text.index(span)
        start, end = tidy_span(text, start, start + len(span))
        return text[start:end]

    assert tidy("a Western-aligned \u201cthird force") == "a Western-aligned \u201cthird force"  # inside: kept
    assert tidy("\u201cthird force") == "third force" and tidy("third force\u201d") == "third force"
    assert tidy("\u201cthird force\u201d") == "\u201cthird force\u201d"  # a whole quotation keeps its marks
    assert tidy("(the FSA") == "the FSA" and tidy("the FSA),") == "the FSA"
    assert tidy('"no') == "no" and tidy('"no"') == '"no"'
    assert tidy("left;") == "left" and tidy("\u2018worked") == "worked"
    assert tidy_span("x \u201c y", 2, 3) == (2, 3)  # never empty


def test_the_type_check_reads_the_whole_words_a_span_touches():
    text = "Iraq received F-16 jets and 5,000 missiles."
    start = text.index("16")
    assert whole_words(text, start, start + 2) == "F-16"  # so "16" read inside "F-16" is no quantity
    start = text.index("5,000")
    assert whole_words(text, start, start + 5) == "5,000"
    assert whole_words(text, 0, 4) == "Iraq" and whole_words(text, len(text) - 9, len(text)) == "missiles."


def test_reading_stops_once_an_answer_is_clearly_ahead(small_index, fake_encoder):
    answers = {QUESTION: [("5,000", 9.0)]}
    eager = _answerer(small_index, fake_encoder, answers)
    adaptive = _answerer(small_index, fake_encoder, answers, stop_margin=8.0)
    full, quick = eager.answer(QUESTION), adaptive.answer(QUESTION)
    (_, every_window), *_ = eager.reader.calls
    assert len(every_window) > 1  # the eager answerer reads all windows in one call
    assert quick.text == full.text == "5,000" and quick.citations[0] == full.citations[0]
    assert all(len(passages) == 1 for _, passages in adaptive.reader.calls)  # one window at a time
    assert len(adaptive.reader.calls) < len(every_window)  # and it stopped early
    best_first = adaptive.retrieve(QUESTION)[0].chunk
    assert best_first.text in adaptive.reader.calls[0][1][0]  # starting with the best-retrieved window


def test_reading_goes_on_while_no_answer_is_clearly_ahead(small_index, fake_encoder):
    answers = {QUESTION: [("5,000", 3.0)]}
    eager = _answerer(small_index, fake_encoder, answers)
    adaptive = _answerer(small_index, fake_encoder, answers, stop_margin=8.0)
    full, unsure = eager.answer(QUESTION), adaptive.answer(QUESTION)
    assert len(adaptive.reader.calls) == len(eager.reader.calls[0][1])  # every window read
    assert unsure.to_dict() == full.to_dict()


def _cascade(small_index, fake_encoder, first_answers, second_answers, *, second_threshold=0.0):
    corpus, index_dir = small_index
    return QuestionAnswerer(
        index_dir=index_dir,
        corpus_dir=corpus,
        encoder=fake_encoder,
        reader=FakeReader(first_answers, stop_margin=8.0),
        rereader=FakeReader(second_answers, threshold=second_threshold, stop_margin=8.0),
    )


def test_a_first_reader_clearly_ahead_on_the_best_window_answers_alone(small_index, fake_encoder):
    answerer = _cascade(small_index, fake_encoder, {QUESTION: [("5,000", 9.0)]}, {QUESTION: [("75", 9.0)]})
    result = answerer.answer(QUESTION)
    assert result.text == "5,000"
    assert len(answerer.reader.calls) == 1 and answerer.rereader.calls == []  # one window, no re-reading
    assert answerer.answer_from_passages(QUESTION, answerer.index.chunks).text == "5,000"


def test_an_unsure_first_reader_hands_the_question_to_the_rereader(small_index, fake_encoder):
    # The first reader would answer (3 > its threshold 0) but is not clearly ahead (3 < 8): the rereader
    # reads every window afresh and decides with its own threshold.
    answerer = _cascade(small_index, fake_encoder, {QUESTION: [("5,000", 3.0)]}, {QUESTION: [("5,000", 3.0)]})
    result = answerer.answer(QUESTION)
    assert result.text == "5,000" and len(answerer.reader.calls) == 1
    read_again = [passage for _, passages in answerer.rereader.calls for passage in passages]
    assert answerer.reader.calls[0][1][0] in read_again and len(read_again) > 1
    doubtful = _cascade(
        small_index, fake_encoder, {QUESTION: [("5,000", 3.0)]}, {QUESTION: [("5,000", 3.0)]}, second_threshold=4.0
    )
    assert doubtful.answer(QUESTION).text is None  # the rereader's threshold, not the first reader's
    assert doubtful.answer_from_passages(QUESTION, doubtful.index.chunks).text is None


def test_a_rereader_with_a_first_reader_weight_adds_the_first_readers_margin_for_the_same_span(
    small_index, fake_encoder
):
    # The rereader prefers "450"; the first reader (unsure: 6 < its stop margin 8) prefers "5,000". Alone the
    # rereader answers "450"; blended (its margin + 1.0 x the first reader's for the same span), "5,000".
    first = {QUESTION: [("5,000", 6.0), ("450", -4.0)]}
    second = {QUESTION: [("450", 6.0), ("5,000", 2.0)]}
    alone = _cascade(small_index, fake_encoder, first, second)
    assert alone.answer(QUESTION).text == "450"
    blended = _cascade(small_index, fake_encoder, first, second)
    blended.rereader.calibration = dataclasses.replace(blended.rereader.calibration, first_reader_weight=1.0)
    result = blended.answer(QUESTION)
    assert result.text == "5,000" and [a.text for a in result.alternatives] == ["450"]
    assert result.score == pytest.approx(1 / (1 + math.exp(-8.0)), abs=1e-4)  # 2 + 6, the rereader's sigmoid
    read_first = [passage for _, passages in blended.reader.calls for passage in passages]
    read_again = [passage for _, passages in blended.rereader.calls for passage in passages]
    # The first reader read every window in which the rereader found a candidate, and no other.
    holding = [p for p in read_again if "450" in p or "5,000" in p]
    assert sorted(read_first) == sorted(holding) and len(holding) < len(read_again)
    # A span the first reader never proposed gets its lowest margin less one.
    unseen = _cascade(small_index, fake_encoder, {QUESTION: [("780", 6.0)]}, second)
    unseen.rereader.calibration = dataclasses.replace(unseen.rereader.calibration, first_reader_weight=1.0)
    assert unseen.answer(QUESTION).score == pytest.approx(1 / (1 + math.exp(-11.0)), abs=1e-4)  # 6 + (6 - 1)


def test_a_readers_overlap_weight_moves_the_decision_by_the_share_of_question_words_the_best_window_holds(
    small_index, fake_encoder
):
    # "825" is read in the paragraph that repeats the question's words (all four: overlap 1); "$4.7 billion" in
    # another article's two paragraphs, which hold two of them ("US", "Iraq": overlap 1/2). An overlap weight
    # of -2 takes 2 x 1 (the best answer's window) off every margin: the order stays, the confidences fall.
    question = "How many US troops were on the ground in Iraq?"
    answers = {question: [("825", 3.0), ("$4.7 billion", 2.5)]}
    assert _answerer(small_index, fake_encoder, answers).answer(question, top_k=10).text == "825"
    answerer = _answerer(small_index, fake_encoder, answers)
    answerer.reader.calibration = dataclasses.replace(answerer.reader.calibration, overlap_weight=-2.0)
    result = answerer.answer(question, top_k=10)
    assert result.text == "825" and [a.text for a in result.alternatives] == ["$4.7 billion"]
    assert result.score == pytest.approx(1 / (1 + math.exp(-1.0)), abs=1e-4)  # 3 - 2 x 1
    assert result.alternatives[0].score == pytest.approx(1 / (1 + math.exp(-0.5)), abs=1e-4)  # 2.5 - 2 x 1
    # Past the threshold (0): at -4 both margins fall below it and the bot declines.
    answerer.reader.calibration = dataclasses.replace(answerer.reader.calibration, overlap_weight=-4.0)
    assert answerer.answer(question, top_k=10).text is None


def test_a_blending_first_reader_reads_no_window_the_rereader_stopped_before(small_index, fake_encoder):
    # The rereader is clearly ahead (9 >= its stop margin 8) on the first window holding "5,000": it reads
    # no further, and the first reader reads nothing beyond its own best window and that one.
    first = {QUESTION: [("5,000", 6.0)]}
    answerer = _cascade(small_index, fake_encoder, first, {QUESTION: [("5,000", 9.0)]})
    answerer.rereader.calibration = dataclasses.replace(answerer.rereader.calibration, first_reader_weight=0.5)
    assert answerer.answer(QUESTION).text == "5,000"
    read_first = [passage for _, passages in answerer.reader.calls for passage in passages]
    read_again = [passage for _, passages in answerer.rereader.calls for passage in passages]
    windows = reading_windows(answerer.retrieve(QUESTION), answerer.index, with_previous=True)
    assert len(read_again) < len(windows)  # the rereader stopped early
    assert set(read_first) <= {read_first[0], *read_again}
    assert all("5,000" in passage for passage in read_first[1:])


def test_the_default_answerer_rereads_with_models_rereader_only_when_it_holds_a_reader(
    small_index, fake_encoder, tmp_path, monkeypatch
):
    import qa.pipeline

    corpus, index_dir = small_index
    monkeypatch.setattr(qa.pipeline, "DEFAULT_REREADER_DIR", tmp_path / "rereader")
    assert QuestionAnswerer(index_dir=index_dir, corpus_dir=corpus, encoder=fake_encoder).rereader is None
    (tmp_path / "rereader").mkdir()
    calibration = {"threshold": 1.0, "slope": 1.0, "intercept": 0.0, "backend": "onnx-int8"}
    (tmp_path / "rereader" / "calibration.json").write_text(json.dumps(calibration), encoding="utf-8")
    default = QuestionAnswerer(index_dir=index_dir, corpus_dir=corpus, encoder=fake_encoder)
    assert isinstance(default.rereader, ReaderModel) and default.rereader.model_dir == tmp_path / "rereader"
    given = QuestionAnswerer(index_dir=index_dir, corpus_dir=corpus, encoder=fake_encoder, reader=FakeReader())
    assert given.rereader is None  # a reader given by the caller is read alone unless a rereader is given too
    # A rereader folder without its graph is a clear error at load, naming the folder, not a silent fallback.
    with pytest.raises(qa.ReaderModelMissingError, match=re.escape(str(tmp_path / "rereader"))):
        default.rereader.load()


NEW_ARTICLE = """Turkish drivers freed in Mosul

By A. Reporter
12 September 2014

Militants in Mosul released 32 Turkish truck drivers on Thursday, the Turkish foreign ministry said.
"""
NEW_QUESTION = "How many Turkish truck drivers were released?"


def test_a_rebuilt_index_is_used_by_a_running_answerer(small_index, fake_encoder):
    corpus, index_dir = small_index
    answerer = _answerer(small_index, fake_encoder, {NEW_QUESTION: [("32", 6.0)]})
    assert answerer.answer(NEW_QUESTION).text is None
    (corpus / "drivers.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    # The corpus changed but nobody rebuilt yet: the loaded index keeps answering, no stale-index error.
    assert answerer.answer(NEW_QUESTION).text is None and not answerer.refresh()
    build_index(corpus, index_dir, encoder=fake_encoder)  # as `qa index` in another process would
    result = answerer.answer(NEW_QUESTION)
    assert result.text == "32" and result.citations[0].doc_id == "drivers.txt"
    assert not answerer.refresh()  # nothing new since


def test_an_unusable_rebuilt_index_leaves_the_loaded_one_in_use(small_index, fake_encoder):
    corpus, index_dir = small_index
    answerer = _answerer(small_index, fake_encoder, {QUESTION: [("5,000", 6.0)]})
    assert answerer.answer(QUESTION).text == "5,000"
    (corpus / "drivers.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    build_index(corpus, index_dir, encoder=fake_encoder)
    (corpus / "drivers.txt").write_text(NEW_ARTICLE + "\nOne more line.\n", encoding="utf-8")  # stale again
    assert not answerer.refresh()
    assert answerer.answer(QUESTION).text == "5,000"


def test_an_in_memory_index_is_answered_from_and_never_swapped_for_a_folder(small_index, fake_encoder, tmp_path):
    from embeddings.corpus import load_corpus
    from embeddings.index import index_from_documents

    corpus, index_dir = small_index
    documents, _ = load_corpus(corpus)
    in_memory = index_from_documents(documents, encoder=fake_encoder)
    answerer = QuestionAnswerer(
        index_dir=index_dir, encoder=fake_encoder, reader=FakeReader({QUESTION: [("5,000", 6.0)]}), index=in_memory
    )
    assert answerer.answer(QUESTION).text == "5,000"
    build_index(corpus, index_dir, encoder=fake_encoder)  # the folder at index_dir changes
    assert answerer.refresh() is False
    assert answerer.index is in_memory
