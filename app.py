"""The Gradio page: a thin shell over ``qa.answer()`` that renders answers, citations and passages.

Every piece of text that comes from a question or a document is HTML-escaped before it is shown.
Start it with ``qa serve`` or ``make run``; it binds to 127.0.0.1:7860 and never creates a share link.
"""

from __future__ import annotations

import html
import logging
import os
from pathlib import Path
from typing import Any

import qa
from embeddings.retrieval import MODES
from qa.defaults import DEFAULT_MODE, DEFAULT_TOP_K, MAX_TOP_K, default_corpus_dir, default_index_dir
from qa.errors import MAX_QUESTION_CHARS, USER_ERRORS
from qa.types import Answer, Citation

PathLike = str | Path | None

LOG = logging.getLogger("app")
EXAMPLES = [
    "How many Hellfire missiles were sold to Iraq?",
    "When did ISIS capture Mosul?",
    "Who is the Pentagon press secretary?",
    "How much did the US military spend to train the Iraqi army?",
    "Who won the 2014 World Cup?",
]
CONCURRENCY_LIMIT = 4
STATUS_REFRESH_SECONDS = 3
PASTE_LIMIT_CHARS = 20 * MAX_QUESTION_CHARS
QUEUE_SIZE = 64

CSS = """
.qa-answer { font-size: 2em; font-weight: 700; margin: 0.2em 0; }
.qa-none { font-size: 1.5em; font-weight: 600; color: #8a5a00; }
.qa-error { color: #a00; font-weight: 600; }
.qa-meta { color: #555; }
.qa-passage { border-left: 4px solid #e0b000; padding: 0.4em 0.8em; margin: 0.4em 0; background: #fffdf3; }
.qa-passage mark { background: #ffd84d; padding: 0 2px; }
.qa-alt { margin: 0.3em 0; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _source_line(citation: Citation) -> str:
    date = citation.date or "date unknown"
    author = f" · {_e(citation.author)}" if citation.author else ""
    return (
        f'<div class="qa-meta"><b>{_e(citation.title)}</b> · {_e(date)}{author} · '
        f"paragraph {citation.paragraph + 1} · <code>{_e(citation.doc_id)}</code></div>"
    )


def _highlighted(citation: Citation) -> str:
    passage = citation.passage
    return (
        f'<div class="qa-passage">{_e(passage[: citation.start])}<mark class="qa-evidence">'
        f"{_e(passage[citation.start : citation.end])}</mark>{_e(passage[citation.end :])}</div>"
    )


def render_answer(result: Answer) -> str:
    """HTML for the answer block: the answer, its confidence, source and highlighted passage."""
    if result.text is None:
        return (
            '<div class="qa-none" id="qa-not-found">Not found in the corpus.</div>'
            f'<div class="qa-meta">No retrieved passage answers this question '
            f"(confidence in abstaining: {result.score:.0%}).</div>"
        )
    citation = result.citations[0]
    return (
        f'<div class="qa-answer" id="qa-answer-text">{_e(result.text)}</div>'
        f'<div class="qa-meta">Confidence {result.score:.0%}</div>'
        f"{_source_line(citation)}{_highlighted(citation)}"
    )


def render_alternatives(result: Answer) -> str:
    """HTML list of the other candidate answers with their sources and dates."""
    if not result.alternatives:
        return ""
    items = []
    for alternative in result.alternatives:
        citation = alternative.citations[0]
        items.append(
            f'<div class="qa-alt"><b>{_e(alternative.text)}</b> ({alternative.score:.0%}) '
            f"{_source_line(citation)}{_highlighted(citation)}</div>"
        )
    return "<h4>Other answers in the corpus</h4>" + "".join(items)


def render_passages(result: Answer) -> str:
    """HTML of the retrieved passages with their retrieval scores."""
    if not result.passages:
        return "<i>No passages retrieved.</i>"
    rows = []
    for passage in result.passages:
        rows.append(
            f'<div class="qa-meta">{passage.rank + 1}. <b>{_e(passage.title)}</b> · '
            f"{_e(passage.date or 'date unknown')} · paragraph {passage.paragraph + 1} · {passage.score_summary}</div>"
            f'<div class="qa-passage">{_e(passage.text)}</div>'
        )
    return "".join(rows)


def render_error(message: str) -> str:
    """HTML for an error message (escaped)."""
    return f'<div class="qa-error" id="qa-error">{_e(message)}</div>'


def ask(
    question: str,
    top_k: float = DEFAULT_TOP_K,
    mode: str = DEFAULT_MODE,
    *,
    index_dir: PathLike = None,
    corpus_dir: PathLike = None,
) -> tuple[str, str, str]:
    """Answer a question for the page: returns (answer HTML, alternatives HTML, passages HTML)."""
    try:
        result = qa.answer(question, top_k=int(top_k), mode=mode, index_dir=index_dir, corpus_dir=corpus_dir)
    except USER_ERRORS as error:
        return render_error(str(error)), "", ""
    except Exception:  # the page must never show a traceback
        LOG.exception("unexpected error answering %r", question[:200] if isinstance(question, str) else question)
        return render_error("Something went wrong while answering. The error was logged; please try again."), "", ""
    return render_answer(result), render_alternatives(result), render_passages(result)


def corpus_status(*, index_dir: PathLike = None, corpus_dir: PathLike = None, watcher: Any = None) -> str:
    """One line saying how many documents and chunks are indexed (or what is wrong with the index), and,
    with a corpus ``watcher``, whether an update is running or how the last one went."""
    try:
        index = qa.get_answerer(index_dir=index_dir, corpus_dir=corpus_dir).index
    except USER_ERRORS as error:
        return render_error(str(error))
    manifest = index.manifest
    update = f" {_e(watcher.status)}" if watcher is not None and watcher.status else ""
    return (
        f'<div class="qa-meta" id="qa-status">Indexed: {manifest.document_count} documents, '
        f"{manifest.chunk_count} passages (built {_e(manifest.built_at)}).{update}</div>"
    )


def build_page(*, index_dir: PathLike = None, corpus_dir: PathLike = None, watcher: Any = None) -> Any:
    """The ``gr.Blocks`` page; nothing is loaded until the first question (or the status line). With a
    corpus ``watcher`` the status line refreshes every few seconds."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no phoning home
    import gradio as gr

    with gr.Blocks(title="Ask the corpus") as page:
        gr.Markdown("# Ask the corpus\nAnswers are copied from the articles, with the passage they came from.")
        status = gr.HTML(corpus_status(index_dir=index_dir, corpus_dir=corpus_dir, watcher=watcher))
        if watcher is not None:
            gr.Timer(STATUS_REFRESH_SECONDS).tick(
                lambda: corpus_status(index_dir=index_dir, corpus_dir=corpus_dir, watcher=watcher),
                outputs=status,
                api_visibility="private",
                queue=False,
                show_progress="hidden",
            )
        with gr.Row():
            question = gr.Textbox(
                label="Question",
                placeholder="How many Hellfire missiles were sold to Iraq?",
                # Longer than the library's limit on purpose: a long paste reaches the server and gets the
                # "too long" message instead of being cut silently in the browser.
                max_length=PASTE_LIMIT_CHARS,
                lines=1,
                scale=5,
                elem_id="qa-question",
            )
            button = gr.Button("Ask", variant="primary", scale=1, elem_id="qa-ask")
        with gr.Accordion("Options", open=False):
            top_k = gr.Slider(1, MAX_TOP_K, value=DEFAULT_TOP_K, step=1, label="Passages to read")
            mode = gr.Radio(
                [DEFAULT_MODE, *(m for m in MODES if m != DEFAULT_MODE)], value=DEFAULT_MODE, label="Retrieval"
            )
        examples = gr.Examples(EXAMPLES, inputs=question)
        answer_html = gr.HTML(elem_id="qa-answer")
        alternatives_html = gr.HTML(elem_id="qa-alternatives")
        with gr.Accordion("Retrieved passages", open=False):
            passages_html = gr.HTML(elem_id="qa-passages")

        def on_ask(text: str, k: float, m: str) -> tuple[str, str, str]:
            return ask(text, k, m, index_dir=index_dir, corpus_dir=corpus_dir)

        outputs = [answer_html, alternatives_html, passages_html]
        button.click(on_ask, [question, top_k, mode], outputs, api_name="ask", concurrency_limit=CONCURRENCY_LIMIT)
        # Clicking an example asks it (with the options as set), not only fills the box.
        examples.load_input_event.then(
            on_ask, [question, top_k, mode], outputs, api_visibility="private", concurrency_limit=CONCURRENCY_LIMIT
        )
        question.submit(
            on_ask, [question, top_k, mode], outputs, api_visibility="undocumented", concurrency_limit=CONCURRENCY_LIMIT
        )
    page.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY_LIMIT)
    return page


def answer_json(
    question: str,
    *,
    top_k: int | None = None,
    mode: str | None = None,
    index: str | None = None,
    corpus: str | None = None,
    index_dir: PathLike = None,
    corpus_dir: PathLike = None,
) -> tuple[int, dict]:
    """The ``/api/answer`` route as a plain function: (HTTP status, JSON body).

    200 with ``Answer.to_dict()``; 400 with ``{"error": message}`` for a question or option the library
    refuses; 409 when the caller names an ``index`` or ``corpus`` folder other than the one served (so
    ``qa ask`` answers itself instead of from the wrong documents).
    """
    served_index = str(Path(index_dir or default_index_dir()).resolve())
    served_corpus = str(Path(corpus_dir or default_corpus_dir()).resolve())
    if (index and str(Path(index).resolve()) != served_index) or (
        corpus and str(Path(corpus).resolve()) != served_corpus
    ):
        return 409, {"error": "This server answers from another index or corpus.", "index": served_index}
    try:
        result = qa.answer(question, top_k=top_k, mode=mode, index_dir=index_dir, corpus_dir=corpus_dir)
    except USER_ERRORS as error:
        return 400, {"error": str(error), "type": type(error).__name__}
    return 200, result.to_dict()


def build_app(*, index_dir: PathLike = None, corpus_dir: PathLike = None, watcher: Any = None) -> Any:
    """The served application: the page at ``/`` and a JSON route, ``GET /api/answer?q=...[&k=&mode=]``,
    that ``qa ask`` uses when a server is running."""
    import gradio as gr
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    api = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @api.get("/api/answer")
    def api_answer(
        q: str, k: int | None = None, mode: str | None = None, index: str | None = None, corpus: str | None = None
    ) -> JSONResponse:
        status, body = answer_json(
            q, top_k=k, mode=mode, index=index, corpus=corpus, index_dir=index_dir, corpus_dir=corpus_dir
        )
        return JSONResponse(body, status_code=status)

    page = build_page(index_dir=index_dir, corpus_dir=corpus_dir, watcher=watcher)
    return gr.mount_gradio_app(api, page, path="/", css=CSS, max_file_size="1kb", show_error=False)


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    index_dir: PathLike = None,
    corpus_dir: PathLike = None,
    block: bool = True,
    watch_seconds: float = 2.0,
) -> Any:
    """Load the models, then serve the page and the JSON route on ``host:port`` (no share link). With
    ``block`` False the server runs in a background thread; returns the ``uvicorn.Server``.

    Every ``watch_seconds`` (0: never) the corpus folder is checked; changed files are indexed in the
    background and the new index replaces the old one in this process; questions asked meanwhile are
    answered from the old one."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # this process never reaches for a model hub
    import threading

    import uvicorn

    from embeddings.encoder import SentenceTransformerEncoder
    from embeddings.watch import CorpusWatcher

    answerer = qa.get_answerer(index_dir=index_dir, corpus_dir=corpus_dir).load()
    watcher = None
    if watch_seconds > 0:
        watcher = CorpusWatcher(
            answerer.corpus_dir,
            answerer.index_dir,
            encoder=SentenceTransformerEncoder(),
            interval=watch_seconds,
            on_rebuilt=answerer.refresh,
        ).start()
    app = build_app(index_dir=index_dir, corpus_dir=corpus_dir, watcher=watcher)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    print(f"Serving on http://{host}:{port}", flush=True)
    if block:
        server.run()
    else:
        threading.Thread(target=server.run, daemon=True).start()
    return server


if __name__ == "__main__":
    serve(host=os.environ.get("QA_HOST", "127.0.0.1"), port=int(os.environ.get("QA_PORT", "7860")))
