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
from urllib.parse import quote, urlsplit

import qa
from embeddings.corpus import MAX_UPLOAD_BYTES, add_file, remove_file
from embeddings.documents import long_date
from embeddings.formats import SUPPORTED_SUFFIXES
from embeddings.retrieval import MODES
from qa.defaults import DEFAULT_MODE, DEFAULT_TOP_K, MAX_TOP_K, default_corpus_dir, default_index_dir
from qa.errors import MAX_QUESTION_CHARS, USER_ERRORS
from qa.presenting import answer_timeline, confidence_words
from qa.types import Answer, Citation, RetrievedPassage

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
SEARCH_TOP_K = 10
MAX_LISTED_DOCUMENTS = 500  # the page lists this many; the status line counts them all

CSS = """
.qa-answer { font-size: 2em; font-weight: 700; margin: 0.2em 0; }
.qa-none { font-size: 1.5em; font-weight: 600; color: #8a5a00; }
.qa-error { color: #a00; font-weight: 600; }
.qa-meta { color: #555; }
.qa-passage { border-left: 4px solid #e0b000; padding: 0.4em 0.8em; margin: 0.4em 0; background: #fffdf3; }
.qa-passage mark { background: #ffd84d; padding: 0 2px; }
.qa-alt { margin: 0.3em 0; }
.qa-timeline { border-left: 3px solid #888; margin: 0.5em 0 0.5em 0.4em; padding-left: 0.8em; }
.qa-timeline li { margin: 0.5em 0; list-style: none; }
.qa-when { font-weight: 700; color: #333; margin-right: 0.4em; }
.qa-top { background: #eef6ee; }
.qa-docs { border-collapse: collapse; width: 100%; }
.qa-docs td, .qa-docs th { border-bottom: 1px solid #ddd; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
.qa-ok { color: #1a6b1a; font-weight: 600; }
@media (max-width: 600px) { .qa-answer { font-size: 1.5em; } }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def document_link(doc_id: str, start: int | None = None, end: int | None = None) -> str:
    """The page's address of the whole document ``doc_id``, with ``start``/``end`` (offsets in its text)
    highlighted and scrolled to."""
    link = f"/doc?id={quote(doc_id, safe='')}"
    if start is not None and end is not None:
        link += f"&start={start}&end={end}#cited"
    return link


def _outside_link(url: str | None) -> str:
    """A link to the article's own address, only for http(s) addresses (never javascript: and the like)."""
    if not url or urlsplit(url).scheme not in ("http", "https"):
        return ""
    return f' · <a href="{_e(url)}" rel="noopener noreferrer nofollow" target="_blank">original</a>'


def _source_line(citation: Citation) -> str:
    date = citation.date or "date unknown"
    author = f" · {_e(citation.author)}" if citation.author else ""
    link = document_link(citation.doc_id, citation.doc_start + citation.start, citation.doc_start + citation.end)
    return (
        f'<div class="qa-meta"><a class="qa-cite" href="{_e(link)}" target="_blank"><b>{_e(citation.title)}</b></a>'
        f" · {_e(date)}{author} · paragraph {citation.paragraph} · <code>{_e(citation.doc_id)}</code>"
        f"{_outside_link(citation.url)}</div>"
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
            f'<div class="qa-none" id="qa-not-found" data-question="{_e(result.question)}">'
            "Not found in the corpus.</div>"
            f'<div class="qa-meta">No retrieved passage answers this question '
            f"(confidence in abstaining: {result.score:.0%}).</div>"
        )
    citation = result.citations[0]
    return (
        f'<div class="qa-answer" id="qa-answer-text" data-question="{_e(result.question)}">{_e(result.text)}</div>'
        f'<div class="qa-meta" id="qa-confidence">{confidence_words(result.score).capitalize()} '
        f"({result.score:.0%} confidence)</div>"
        f"{_source_line(citation)}{_highlighted(citation)}"
    )


def render_alternatives(result: Answer) -> str:
    """HTML of the other candidate answers: as a dated timeline when they come from articles of different
    dates (the chosen answer marked in it), else as a list, each with its source and passage."""
    if not result.alternatives:
        return ""
    timeline = answer_timeline(result)
    if timeline:
        items = []
        for entry in timeline:
            citation = entry.citations[0]
            chosen = ' class="qa-top"' if entry is result else ""
            when = long_date(citation.date) if citation.date else "undated"
            items.append(
                f'<li{chosen}><span class="qa-when">{_e(when)}</span>'
                f"<b>{_e(entry.text)}</b> ({confidence_words(entry.score)}, {entry.score:.0%})"
                # The chosen answer's passage is shown above already; here its place in time is the news.
                + (" · the answer above" if entry is result else "")
                + _source_line(citation)
                + ("" if entry is result else _highlighted(citation))
                + "</li>"
            )
        return (
            '<h4>The articles answer differently by date</h4><ul class="qa-timeline" id="qa-timeline">'
            + "".join(items)
            + "</ul>"
        )
    items = []
    for alternative in result.alternatives:
        citation = alternative.citations[0]
        items.append(
            f'<div class="qa-alt"><b>{_e(alternative.text)}</b> ({confidence_words(alternative.score)}, '
            f"{alternative.score:.0%}) {_source_line(citation)}{_highlighted(citation)}</div>"
        )
    return "<h4>Other answers in the corpus</h4>" + "".join(items)


def render_passages(result: Answer | tuple[RetrievedPassage, ...]) -> str:
    """HTML of retrieved passages (an answer's, or a search's) with title, date, paragraph, scores and a
    link to the passage in its whole document."""
    passages = result.passages if isinstance(result, Answer) else result
    if not passages:
        return "<i>No passages retrieved.</i>"
    rows = []
    for passage in passages:
        link = document_link(passage.doc_id, passage.doc_start, passage.doc_start + len(passage.text))
        rows.append(
            f'<div class="qa-meta qa-hit">{passage.rank + 1}. <a href="{_e(link)}" target="_blank">'
            f"<b>{_e(passage.title)}</b></a> · {_e(passage.date or 'date unknown')} · "
            f"paragraph {passage.paragraph} · {passage.score_summary}</div>"
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


def search(query: str, mode: str = DEFAULT_MODE, *, index_dir: PathLike = None, corpus_dir: PathLike = None) -> str:
    """The Search tab: HTML of the passages that best match ``query`` (no answer read), or an error."""
    try:
        passages = qa.search(query, top_k=SEARCH_TOP_K, mode=mode, index_dir=index_dir, corpus_dir=corpus_dir)
    except USER_ERRORS as error:
        return render_error(str(error))
    except Exception:
        LOG.exception("unexpected error searching %r", query[:200] if isinstance(query, str) else query)
        return render_error("Something went wrong while searching. The error was logged; please try again.")
    return f'<div id="qa-search-results">{render_passages(passages)}</div>'


def _index_or_error(index_dir: PathLike, corpus_dir: PathLike) -> Any:
    try:
        return qa.get_answerer(index_dir=index_dir, corpus_dir=corpus_dir).index
    except USER_ERRORS as error:
        return render_error(str(error))


def corpus_status(*, index_dir: PathLike = None, corpus_dir: PathLike = None, watcher: Any = None) -> str:
    """One line saying how many documents and chunks are indexed (or what is wrong with the index), and,
    with a corpus ``watcher``, whether an update is running or how the last one went."""
    index = _index_or_error(index_dir, corpus_dir)
    if isinstance(index, str):
        return index
    manifest = index.manifest
    update = f" {_e(watcher.status)}" if watcher is not None and watcher.status else ""
    skipped = f" {len(manifest.skipped)} skipped (see Documents)." if manifest.skipped else ""
    return (
        f'<div class="qa-meta" id="qa-status" data-version="{_e(manifest.corpus_fingerprint[:16])}">'
        f"Indexed: {manifest.document_count} documents, "
        f"{manifest.chunk_count} passages (built {_e(manifest.built_at)}).{skipped}{update}</div>"
    )


def render_documents(*, index_dir: PathLike = None, corpus_dir: PathLike = None) -> str:
    """The Documents tab's table: title (a link to the whole text), date, author, passages and source file
    (and the article's own address) of every indexed document, then the files that were skipped and why."""
    index = _index_or_error(index_dir, corpus_dir)
    if isinstance(index, str):
        return index
    documents = sorted(index.documents.values(), key=lambda d: (d.date or "", d.title), reverse=True)
    rows = []
    for document in documents[:MAX_LISTED_DOCUMENTS]:
        rows.append(
            f'<tr><td><a href="{_e(document_link(document.doc_id))}" target="_blank">{_e(document.title)}</a>'
            f"{_outside_link(document.url)}</td><td>{_e(document.date or '—')}</td>"
            f"<td>{_e(document.author or '—')}</td><td>{len(index.chunks_of(document.doc_id))}</td>"
            f"<td><code>{_e(document.source or document.doc_id)}</code></td></tr>"
        )
    more = (
        f"<p class='qa-meta'>Showing the newest {MAX_LISTED_DOCUMENTS} of {len(documents)}.</p>"
        if len(documents) > MAX_LISTED_DOCUMENTS
        else ""
    )
    table = (
        '<table class="qa-docs" id="qa-documents"><thead><tr><th>Title</th><th>Date</th><th>Author</th>'
        "<th>Passages</th><th>File</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>" + more
    )
    skipped = index.manifest.skipped
    if skipped:
        items = "".join(f"<li><code>{_e(Path(s['path']).name)}</code>: {_e(s['reason'])}</li>" for s in skipped)
        table += f'<h4>Not indexed</h4><ul id="qa-skipped">{items}</ul>'
    return table


def source_files(*, index_dir: PathLike = None, corpus_dir: PathLike = None) -> list[str]:
    """The corpus files the indexed documents came from (what the Remove control offers), sorted."""
    index = _index_or_error(index_dir, corpus_dir)
    if isinstance(index, str):
        return []
    return sorted({d.source or d.doc_id for d in index.documents.values()})


def upload(paths: list[str] | None, *, corpus_dir: PathLike = None, live: bool = True) -> str:
    """Add uploaded files (paths of the server's temporary copies) to the corpus folder: HTML saying what
    was added (with how many documents) and what was refused and why."""
    folder = Path(corpus_dir) if corpus_dir is not None else default_corpus_dir()
    lines = []
    for path in [Path(p) for p in paths or []]:
        try:
            size = path.stat().st_size
            if size > MAX_UPLOAD_BYTES:
                raise qa.FileRejectedError(
                    f"{path.name!r} is too large ({size:,} bytes); the limit is {MAX_UPLOAD_BYTES:,} bytes."
                )
            added = add_file(folder, path.name, path.read_bytes())
        except USER_ERRORS as error:
            lines.append(render_error(str(error)))
            continue
        except OSError as error:
            lines.append(render_error(f"{path.name!r} could not be read ({error.strerror or error})."))
            continue
        count = len(added.documents)
        titles = ", ".join(f"“{d.title}”" for d in added.documents[:3]) + (" …" if count > 3 else "")
        skipped = f" {len(added.skipped)} records skipped." if added.skipped else ""
        lines.append(
            f'<div class="qa-ok">Added {_e(added.path.name)}: {count} document{"s" if count != 1 else ""} '
            f"({_e(titles)}).{_e(skipped)}</div>"
        )
    if not lines:
        return ""
    when = (
        "The index updates in a few seconds; the status line says when."
        if live
        else "Run qa index (or restart qa serve) to include them."
    )
    return '<div id="qa-upload-result">' + "".join(lines) + f'<div class="qa-meta">{when}</div></div>'


def remove(source: str | None, *, corpus_dir: PathLike = None) -> str:
    """Remove a corpus file (moved to the corpus folder's ``.trash``): HTML saying so, or why not."""
    folder = Path(corpus_dir) if corpus_dir is not None else default_corpus_dir()
    if not source:
        return render_error("Choose a file to remove first.")
    try:
        kept = remove_file(folder, source)
    except USER_ERRORS as error:
        return render_error(str(error))
    except OSError as error:
        return render_error(f"{source!r} could not be removed ({error.strerror or error}).")
    return (
        f'<div class="qa-ok" id="qa-removed">Removed {_e(source)}; it leaves the index in a few seconds. '
        f"A copy is kept in {_e(kept.parent.name)}/{_e(kept.name)}.</div>"
    )


def document_page(
    doc_id: str,
    start: int | None = None,
    end: int | None = None,
    *,
    index_dir: PathLike = None,
    corpus_dir: PathLike = None,
) -> tuple[int, str]:
    """The ``/doc`` route: (HTTP status, a whole HTML page) showing document ``doc_id`` passage by passage,
    numbered as citations number them, with ``[start, end)`` of its text highlighted (``id="cited"``)."""
    index = _index_or_error(index_dir, corpus_dir)
    if isinstance(index, str):
        return 503, _standalone("Index unavailable", index)
    document = index.documents.get(doc_id)
    if document is None:
        return 404, _standalone("Not found", render_error(f"No document {doc_id!r} in the index."))
    span = (start, end) if start is not None and end is not None and 0 <= start < end <= len(document.text) else None
    parts = []
    for chunk in index.chunks_of(doc_id):
        text = _e(chunk.text)
        if span and span[0] < chunk.end and span[1] > chunk.start:
            a, b = max(span[0], chunk.start) - chunk.start, min(span[1], chunk.end) - chunk.start
            anchor = ' id="cited"' if span[0] >= chunk.start else ""
            text = f"{_e(chunk.text[:a])}<mark{anchor}>{_e(chunk.text[a:b])}</mark>{_e(chunk.text[b:])}"
        paragraph = chunk.index + 1
        parts.append(f'<p id="p{paragraph}"><span class="qa-num">{paragraph}</span> {text}</p>')
    byline = " · ".join(_e(x) for x in (long_date(document.date) if document.date else None, document.author) if x)
    body = (
        f'<p><a href="/">← Ask the corpus</a></p><h1 id="doc-title">{_e(document.title)}</h1>'
        f'<p class="qa-meta">{byline}{" · " if byline else ""}<code>{_e(document.source or doc_id)}</code>'
        f"{_outside_link(document.url)}</p>" + "".join(parts)
    )
    return 200, _standalone(document.title, body)


def _standalone(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<style>body{font-family:system-ui,sans-serif;max-width:46em;margin:1em auto;padding:0 1em;"
        "line-height:1.5}mark{background:#ffd84d}.qa-num{color:#888;font-size:.8em;margin-right:.4em}"
        ".qa-meta{color:#555}.qa-error{color:#a00;font-weight:600}</style></head>"
        f"<body>{body}</body></html>"
    )


def _query_row(gr: Any, label: str, placeholder: str, box_id: str, action: str, button_id: str) -> tuple[Any, Any]:
    """A one-line text box with its button beside it (a row that wraps on a phone)."""
    with gr.Row():
        box = gr.Textbox(
            label=label,
            placeholder=placeholder,
            # Longer than the library's limit on purpose: a long paste reaches the server and gets the "too
            # long" message instead of being cut silently in the browser.
            max_length=PASTE_LIMIT_CHARS,
            lines=1,
            scale=5,
            elem_id=box_id,
        )
        button = gr.Button(action, variant="primary", scale=1, elem_id=button_id)
    return box, button


def build_page(*, index_dir: PathLike = None, corpus_dir: PathLike = None, watcher: Any = None) -> Any:
    """The ``gr.Blocks`` page: Ask, Search and Documents tabs; nothing is loaded until the first question
    (or the status line). With a corpus ``watcher`` the status line and the document list refresh every
    few seconds and uploads are indexed while the page runs."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no phoning home
    import gradio as gr

    paths = {"index_dir": index_dir, "corpus_dir": corpus_dir}
    modes = [DEFAULT_MODE, *(m for m in MODES if m != DEFAULT_MODE)]
    with gr.Blocks(title="Ask the corpus") as page:
        gr.Markdown("## Ask the corpus\nAnswers are copied from the articles, with the passage they came from.")
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                question, button = _query_row(
                    gr, "Question", "How many Hellfire missiles were sold to Iraq?", "qa-question", "Ask", "qa-ask"
                )
                answer_html = gr.HTML(elem_id="qa-answer")
                alternatives_html = gr.HTML(elem_id="qa-alternatives")
                with gr.Accordion("Retrieved passages", open=False):
                    passages_html = gr.HTML(elem_id="qa-passages")
                examples = gr.Examples(EXAMPLES, inputs=question)
                with gr.Accordion("Options", open=False):
                    top_k = gr.Slider(1, MAX_TOP_K, value=DEFAULT_TOP_K, step=1, label="Passages to read")
                    mode = gr.Radio(modes, value=DEFAULT_MODE, label="Retrieval")
            with gr.Tab("Search", id="search"):
                query, search_button = _query_row(
                    gr, "Find passages", "Hellfire missiles", "qa-search", "Search", "qa-search-go"
                )
                search_html = gr.HTML(elem_id="qa-search-output")
            with gr.Tab("Documents", id="documents"):
                files = gr.File(
                    label=f"Add documents ({', '.join(SUPPORTED_SUFFIXES)}; up to {MAX_UPLOAD_BYTES // 1_000_000} MB)",
                    file_count="multiple",
                    file_types=list(SUPPORTED_SUFFIXES),
                    type="filepath",
                    elem_id="qa-upload",
                )
                upload_html = gr.HTML(elem_id="qa-upload-output")
                with gr.Row():
                    to_remove = gr.Dropdown(
                        source_files(**paths),
                        value=None,  # never a file chosen for the user: removing is their decision
                        label="File to remove",
                        scale=4,
                        elem_id="qa-remove-choice",
                    )
                    remove_button = gr.Button("Remove", variant="stop", scale=1, elem_id="qa-remove")
                remove_html = gr.HTML(elem_id="qa-remove-output")
                documents_html = gr.HTML(render_documents(**paths), elem_id="qa-documents-list")
        status = gr.HTML(corpus_status(**paths, watcher=watcher))

        def on_ask(text: str, k: float, m: str) -> tuple[str, str, str]:
            return ask(text, k, m, **paths)

        outputs = [answer_html, alternatives_html, passages_html]
        button.click(on_ask, [question, top_k, mode], outputs, api_name="ask", concurrency_limit=CONCURRENCY_LIMIT)
        # Clicking an example asks it (with the options as set), not only fills the box.
        examples.load_input_event.then(
            on_ask, [question, top_k, mode], outputs, api_visibility="private", concurrency_limit=CONCURRENCY_LIMIT
        )
        question.submit(
            on_ask, [question, top_k, mode], outputs, api_visibility="undocumented", concurrency_limit=CONCURRENCY_LIMIT
        )
        for trigger in (search_button.click, query.submit):
            trigger(lambda text, m: search(text, m, **paths), [query, mode], search_html, api_visibility="private")

        def refreshed() -> tuple[str, str, Any]:
            return (
                corpus_status(**paths, watcher=watcher),
                render_documents(**paths),
                gr.update(choices=source_files(**paths)),
            )

        def on_upload(uploaded: list[str] | None) -> str:
            message = upload(uploaded, corpus_dir=corpus_dir, live=watcher is not None)
            if watcher is not None:
                watcher.wake()
            return message

        def on_remove(source: str | None) -> tuple[str, Any]:
            message = remove(source, corpus_dir=corpus_dir)
            if watcher is not None:
                watcher.wake()
            return message, gr.update(value=None)

        files.upload(on_upload, files, upload_html, api_visibility="private").then(
            lambda: None, None, files, api_visibility="private"
        )
        remove_button.click(on_remove, to_remove, [remove_html, to_remove], api_visibility="private")
        if watcher is not None:
            # The index changes under the page (uploads, removals, files copied into the folder): keep the
            # status line, the list and the Remove choices in step; nothing is sent while nothing changed.
            # (The status line itself is the state compared: a gr.State would hold a connection open.)
            def tick(shown: str) -> tuple[Any, Any, Any]:
                current = corpus_status(**paths, watcher=watcher)
                if current == shown:
                    return gr.skip(), gr.skip(), gr.skip()
                return refreshed()

            gr.Timer(STATUS_REFRESH_SECONDS).tick(
                tick,
                status,
                [status, documents_html, to_remove],
                api_visibility="private",
                queue=False,
                show_progress="hidden",
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
    from fastapi.responses import HTMLResponse, JSONResponse

    api = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @api.get("/doc")
    def api_document(id: str, start: int | None = None, end: int | None = None) -> HTMLResponse:
        status, body = document_page(id, start, end, index_dir=index_dir, corpus_dir=corpus_dir)
        return HTMLResponse(body, status_code=status, headers={"Content-Security-Policy": "script-src 'none'"})

    @api.get("/api/answer")
    def api_answer(
        q: str, k: int | None = None, mode: str | None = None, index: str | None = None, corpus: str | None = None
    ) -> JSONResponse:
        status, body = answer_json(
            q, top_k=k, mode=mode, index=index, corpus=corpus, index_dir=index_dir, corpus_dir=corpus_dir
        )
        return JSONResponse(body, status_code=status)

    page = build_page(index_dir=index_dir, corpus_dir=corpus_dir, watcher=watcher)
    return gr.mount_gradio_app(api, page, path="/", css=CSS, max_file_size=MAX_UPLOAD_BYTES, show_error=False)


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
        encoder = SentenceTransformerEncoder()
        build = None
        if answerer.store == "milvus":
            from embeddings.milvus_store import build_milvus_index

            def build() -> Any:
                return build_milvus_index(answerer.corpus_dir, answerer.milvus_uri, encoder=encoder)

        watcher = CorpusWatcher(
            answerer.corpus_dir,
            answerer.index_dir,
            encoder=encoder,
            interval=watch_seconds,
            on_rebuilt=answerer.refresh,
            build=build,
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
