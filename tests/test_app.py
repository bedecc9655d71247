"""The page's rendering: everything escaped, the evidence highlighted, errors as messages."""

from __future__ import annotations

import dataclasses

import app
import qa
from qa.types import Answer, Citation, RetrievedPassage

XSS = "<img src=x onerror=alert(1)>"


def _answer(text="5,000", passage="The deal adds 5,000 missiles.", title="Missiles", alternatives=()):
    start = passage.find(text)
    citation = Citation(
        doc_id="d.txt",
        title=title,
        date="2014-08-01",
        passage=passage,
        start=start,
        end=start + len(text),
        chunk_id="c1",
        paragraph=1,
        doc_start=0,
    )
    retrieved = RetrievedPassage(
        doc_id="d.txt",
        title=title,
        date=None,
        chunk_id="c1",
        paragraph=1,
        text=passage,
        score=0.03,
        rank=0,
        dense_score=0.7,
        bm25_score=2.5,
    )
    return Answer(
        text=text,
        score=0.8,
        citations=(citation,),
        alternatives=tuple(alternatives),
        question="q",
        passages=(retrieved,),
    )


def test_answer_is_highlighted_in_its_passage():
    html = app.render_answer(_answer())
    assert '<mark class="qa-evidence">5,000</mark>' in html
    assert "The deal adds " in html and "2014-08-01" in html and "80%" in html


def test_document_and_question_text_is_escaped():
    hostile = _answer(text=XSS, passage=f"Before {XSS} after", title="<script>alert(2)</script>")
    for html in (
        app.render_answer(hostile),
        app.render_passages(hostile),
        app.render_alternatives(_answer(alternatives=[hostile])),
    ):
        assert "<img" not in html and "<script" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html or "&lt;script&gt;" in html


def test_not_found_is_its_own_state():
    html = app.render_answer(Answer(text=None, score=0.9, question="q"))
    assert "Not found in the corpus" in html and "<mark" not in html


def test_errors_are_messages_not_tracebacks(monkeypatch):
    answer_html, alternatives_html, passages_html = app.ask("   ")
    assert 'id="qa-error"' in answer_html and "empty" in answer_html
    assert alternatives_html == passages_html == ""

    def explode(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(app.qa, "answer", explode)
    answer_html, _, _ = app.ask("How many missiles?")
    assert "Something went wrong" in answer_html and "secret" not in answer_html and "Traceback" not in answer_html


def test_question_error_text_is_escaped(monkeypatch):
    def reject(*args, **kwargs):
        raise app.qa.QuestionTooLongError(f"too long: {XSS}")

    monkeypatch.setattr(app.qa, "answer", reject)
    html, _, _ = app.ask(XSS)
    assert "<img" not in html


def test_serve_defaults_to_loopback_without_share(monkeypatch):
    """The page is served by uvicorn on the given host only; Gradio's launch (and its share tunnel) is never
    used."""
    import inspect

    import uvicorn

    assert inspect.signature(app.serve).parameters["host"].default == "127.0.0.1"
    configs = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: configs.append(self.config))
    monkeypatch.setattr(app.qa, "get_answerer", lambda **kwargs: type("Loaded", (), {"load": lambda self: self})())
    monkeypatch.setattr(app, "build_app", lambda **kwargs: "the app")
    app.serve(watch_seconds=0)  # the corpus watcher is covered by tests/test_live_index.py
    (config,) = configs
    assert (config.host, config.port, config.app) == ("127.0.0.1", 7860, "the app")


def test_json_route_answers_refuses_and_checks_the_index(monkeypatch, tmp_path):
    answer = qa.Answer(text="5,000", score=0.9, question="How many?")
    monkeypatch.setattr(app.qa, "answer", lambda question, **kwargs: answer)
    status, body = app.answer_json("How many?", index_dir=tmp_path, corpus_dir=tmp_path)
    assert status == 200 and body == answer.to_dict()
    status, body = app.answer_json("How many?", index=str(tmp_path / "other"), index_dir=tmp_path, corpus_dir=tmp_path)
    assert status == 409

    def refuse(question, **kwargs):
        raise qa.EmptyQuestionError("The question is empty.")

    monkeypatch.setattr(app.qa, "answer", refuse)
    status, body = app.answer_json(" ", index=str(tmp_path), index_dir=tmp_path, corpus_dir=tmp_path)
    assert status == 400 and body["error"] == "The question is empty."


def _dated(text: str, date: str | None, score: float, title: str = "Article") -> Answer:
    answer = _answer(text=text, passage=f"They said {text} missiles.", title=title)
    citation = dataclasses.replace(answer.citations[0], date=date)
    return dataclasses.replace(answer, score=score, citations=(citation,))


def test_answers_of_different_dates_are_shown_as_a_timeline_oldest_first():
    top = dataclasses.replace(
        _dated("75", "2013-12-27", 0.8), alternatives=(_dated("5,000", "2014-08-01", 0.7, title="Deal"),)
    )
    html = app.render_alternatives(top)
    assert 'id="qa-timeline"' in html
    assert html.index("27 December 2013") < html.index("1 August 2014")
    assert html.count("<mark") == 1  # the chosen answer's passage is already shown above the timeline
    assert "likely" in html


def test_alternatives_of_one_date_are_a_plain_list():
    top = dataclasses.replace(_dated("75", "2013-12-27", 0.8), alternatives=(_dated("80", "2013-12-27", 0.5),))
    html = app.render_alternatives(top)
    assert "qa-timeline" not in html and "Other answers" in html and "unsure" in html


def test_citation_links_to_the_whole_document_at_the_cited_span():
    html = app.render_answer(_answer())
    assert 'href="/doc?id=d.txt&amp;start=14&amp;end=19#cited"' in html
    assert "Very likely" not in html and "Likely (80% confidence)" in html


def test_outside_links_are_only_http():
    hostile = _answer()
    citation = dataclasses.replace(hostile.citations[0], url="javascript:alert(1)")
    assert "javascript:" not in app.render_answer(dataclasses.replace(hostile, citations=(citation,)))
    citation = dataclasses.replace(hostile.citations[0], url="https://news.example/a?b=1&c=2")
    assert 'href="https://news.example/a?b=1&amp;c=2"' in app.render_answer(
        dataclasses.replace(hostile, citations=(citation,))
    )


class _Index:
    """The parts of a loaded index the document view reads."""

    def __init__(self, document, chunks):
        self.documents = {document.doc_id: document}
        self._chunks = chunks

    def chunks_of(self, doc_id):
        return tuple(self._chunks)


def _served(monkeypatch, index):
    monkeypatch.setattr(app.qa, "get_answerer", lambda **kwargs: type("A", (), {"index": index})())


def test_document_view_numbers_passages_from_one_and_marks_the_span(monkeypatch):
    from embeddings.chunking import chunk_document
    from embeddings.documents import clean_article
    from tests.conftest import ARTICLE_MISSILES

    document = clean_article(ARTICLE_MISSILES.replace("US boosts", f"US boosts {XSS}"), doc_id="m.txt")
    chunks = chunk_document(document, min_words=1)
    _served(monkeypatch, _Index(document, chunks))
    start = document.text.index("5,000")
    status, page = app.document_page("m.txt", start, start + 5)
    assert status == 200
    assert '<mark id="cited">5,000</mark>' in page
    assert 'id="p1"' in page and f'id="p{len(chunks)}"' in page and 'id="p0"' not in page
    assert "<img" not in page and "&lt;img" in page
    status, page = app.document_page("m.txt", 10, 10_000_000)  # a span past the end: shown unmarked
    assert status == 200 and "<mark" not in page
    status, page = app.document_page("../etc/passwd", None, None)
    assert status == 404 and "No document" in page


def test_upload_reports_what_was_added_and_what_was_refused(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    good = tmp_path / "good.txt"
    good.write_text("Dam repairs begin\n\nEngineers began grouting work at the Mosul dam on Monday.", encoding="utf-8")
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 broken")
    html = app.upload([str(good), str(bad)], corpus_dir=corpus)
    assert "Added good.txt: 1 document" in html and "Dam repairs begin" in html
    assert 'class="qa-error"' in html and "bad.pdf" in html and "damaged" in html
    assert sorted(p.name for p in corpus.iterdir()) == ["good.txt"]
    removed = app.remove("good.txt", corpus_dir=corpus)
    assert "Removed good.txt" in removed and not (corpus / "good.txt").exists()
    assert "qa-error" in app.remove("../good.txt", corpus_dir=corpus)
