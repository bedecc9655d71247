"""The page's rendering: everything escaped, the evidence highlighted, errors as messages."""

from __future__ import annotations

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
