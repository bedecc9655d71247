"""The Gradio page: a thin shell over ``qa.answer()`` that renders answers, citations and passages.

Every piece of text that comes from a question or a document is HTML-escaped before it is shown.
Start it with ``qa serve`` or ``make run``; it binds to 127.0.0.1:7860 and never creates a share link.
Once the team file has users (``qa users add``), everyone signs in and roles decide who may change the
corpus (``guard.py``); uploads and removals are audited and answers can be marked right or wrong.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import ipaddress
import json
import logging
import os
import secrets
import weakref
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import qa
from embeddings.corpus import MAX_UPLOAD_BYTES, add_file, remove_file
from embeddings.documents import long_date
from embeddings.formats import SUPPORTED_SUFFIXES
from embeddings.retrieval import MODES
from guard import EventRoles, GuardSettings, TeamGuard, add_signin_routes, request_user
from qa.defaults import DEFAULT_MODE, DEFAULT_TOP_K, MAX_TOP_K, default_corpus_dir, default_index_dir
from qa.errors import MAX_QUESTION_CHARS, USER_ERRORS
from qa.presenting import answer_timeline, confidence_words
from qa.team import (
    ADMIN,
    EDITOR,
    READER,
    ROLES,
    AuditRow,
    OpenServerError,
    TeamError,
    TeamStore,
    TeamUser,
    UserRow,
    role_rank,
)
from qa.types import Answer, Citation, RetrievedPassage
from qa.version import version

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
.qa-who { text-align: right; color: #555; }
.qa-who form { display: inline; }
.qa-who button { background: none; border: none; padding: 0; font: inherit; color: #1a55a0;
  text-decoration: underline; cursor: pointer; }
.qa-hidden { display: none !important; }
.qa-refused { color: #a00; }
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
    return answer_for_page(question, top_k, mode, index_dir=index_dir, corpus_dir=corpus_dir)[1]


def answer_for_page(
    question: str,
    top_k: float = DEFAULT_TOP_K,
    mode: str = DEFAULT_MODE,
    *,
    index_dir: PathLike = None,
    corpus_dir: PathLike = None,
) -> tuple[Answer | None, tuple[str, str, str]]:
    """``ask`` with the ``Answer`` itself (None when the question was refused or answering failed), which
    the page keeps so that the person who reads it can mark it right or wrong."""
    try:
        result = qa.answer(question, top_k=int(top_k), mode=mode, index_dir=index_dir, corpus_dir=corpus_dir)
    except USER_ERRORS as error:
        return None, (render_error(str(error)), "", "")
    except Exception:  # the page must never show a traceback
        LOG.exception("unexpected error answering %r", question[:200] if isinstance(question, str) else question)
        message = "Something went wrong while answering. The error was logged; please try again."
        return None, (render_error(message), "", "")
    return result, (render_answer(result), render_alternatives(result), render_passages(result))


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


def _audit(team: TeamStore | None, actor: str | None, action: str, target: str, ok: bool, outcome: str) -> None:
    """A line in the audit trail for a change made on the page (nothing without a team or an actor). A
    trail that cannot be written is logged; the change it describes has happened and is reported anyway."""
    if team is None or actor is None:
        return
    try:
        team.record(user=actor, via="page", action=action, target=target, ok=ok, outcome=outcome)
    except Exception:
        LOG.exception("could not write the audit trail (%s %s by %s: %s)", action, target, actor, outcome)


def upload(
    paths: list[str] | None,
    *,
    corpus_dir: PathLike = None,
    live: bool = True,
    actor: str | None = None,
    team: TeamStore | None = None,
) -> str:
    """Add uploaded files (paths of the server's temporary copies) to the corpus folder: HTML saying what
    was added (with how many documents) and what was refused and why. With a ``team`` store, each file's
    outcome goes into its audit trail under ``actor``'s name."""
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
            _audit(team, actor, "add", path.name, False, f"refused: {error}")
            continue
        except OSError as error:
            lines.append(render_error(f"{path.name!r} could not be read ({error.strerror or error})."))
            _audit(team, actor, "add", path.name, False, f"could not be read ({error.strerror or error})")
            continue
        count = len(added.documents)
        titles = ", ".join(f"“{d.title}”" for d in added.documents[:3]) + (" …" if count > 3 else "")
        skipped = f" {len(added.skipped)} records skipped." if added.skipped else ""
        documents = f"{count} document{'s' if count != 1 else ''}"
        _audit(team, actor, "add", path.name, True, f"added as {added.path.name} ({documents})")
        lines.append(f'<div class="qa-ok">Added {_e(added.path.name)}: {documents} ({_e(titles)}).{_e(skipped)}</div>')
    if not lines:
        return ""
    when = (
        "The index updates in a few seconds; the status line says when."
        if live
        else "Run qa index (or restart qa serve) to include them."
    )
    return '<div id="qa-upload-result">' + "".join(lines) + f'<div class="qa-meta">{when}</div></div>'


def remove(
    source: str | None, *, corpus_dir: PathLike = None, actor: str | None = None, team: TeamStore | None = None
) -> str:
    """Remove a corpus file (moved to the corpus folder's ``.trash``): HTML saying so, or why not. With a
    ``team`` store, the outcome goes into its audit trail under ``actor``'s name."""
    folder = Path(corpus_dir) if corpus_dir is not None else default_corpus_dir()
    if not source:
        return render_error("Choose a file to remove first.")
    try:
        kept = remove_file(folder, source)
    except USER_ERRORS as error:
        _audit(team, actor, "remove", source, False, f"refused: {error}")
        return render_error(str(error))
    except OSError as error:
        _audit(team, actor, "remove", source, False, f"could not be removed ({error.strerror or error})")
        return render_error(f"{source!r} could not be removed ({error.strerror or error}).")
    _audit(team, actor, "remove", source, True, f"moved to {kept.parent.name}/{kept.name}")
    return (
        f'<div class="qa-ok" id="qa-removed">Removed {_e(source)}; it leaves the index in a few seconds. '
        f"A copy is kept in {_e(kept.parent.name)}/{_e(kept.name)}.</div>"
    )


def _team_of(index_dir: PathLike) -> TeamStore:
    return TeamStore.for_index(index_dir if index_dir is not None else default_index_dir())


def page_user(request: Any, team: TeamStore) -> TeamUser | None:
    """Who is behind a page event: the user the guard let through (``guard.request_user``); with none, an
    anonymous admin while ``team`` has no users (a page served without the guard then works as it did
    before there were users), else None: the handler refuses."""
    user = request_user(request)
    if user is not None:
        return user
    return None if team.has_users() else TeamUser("anonymous", ADMIN, signed_in=False)


def render_who(user: TeamUser | None) -> str:
    """The line at the top of the page: who is signed in, their role and a sign-out button; nothing when no
    one signed in (a server without users)."""
    if user is None or not user.signed_in:
        return ""
    return (
        f'<div class="qa-who" id="qa-who">Signed in as <b id="qa-user">{_e(user.name)}</b> ({_e(user.role)}) · '
        '<form method="post" action="/signout"><button type="submit" id="qa-signout">Sign out</button></form></div>'
    )


def render_audit(rows: list[AuditRow], *, limit: int | None = None) -> str:
    """The audit trail as a table, newest first: when, who, from where, what, which file or user, and the
    outcome (everything escaped). With ``limit``, a link to the whole trail follows."""
    if not rows:
        return '<p class="qa-meta" id="qa-audit-empty">Nothing recorded yet.</p>'
    refused = ' class="qa-refused"'
    body = "".join(
        f"<tr{'' if row.ok else refused}><td>{_e(row.at)}</td><td>{_e(row.user)}</td>"
        f"<td>{_e(row.via)}</td><td>{_e(row.action)}</td><td><code>{_e(row.target)}</code></td>"
        f"<td>{_e(row.outcome)}</td></tr>"
        for row in rows
    )
    more = (
        '<p class="qa-meta"><a href="/admin/audit" target="_blank">The whole trail</a></p>'
        if limit is not None and len(rows) >= limit
        else ""
    )
    return (
        '<table class="qa-docs" id="qa-audit-table"><thead><tr><th>When (UTC)</th><th>Who</th><th>From</th>'
        f"<th>What</th><th>File or user</th><th>Outcome</th></tr></thead><tbody>{body}</tbody></table>{more}"
    )


def render_users(rows: list[UserRow]) -> str:
    """The team's users as a table: name, role, when added, last sign-in and tokens (everything escaped)."""
    if not rows:
        return '<p class="qa-meta">No users yet: the page is open to this machine without signing in.</p>'
    body = "".join(
        f"<tr><td>{_e(row.name)}</td><td>{_e(row.role)}</td><td>{_e(row.created)}</td>"
        f"<td>{_e(row.last_signin or '—')}</td><td>{row.tokens}</td></tr>"
        for row in rows
    )
    return (
        '<table class="qa-docs" id="qa-users-table"><thead><tr><th>Name</th><th>Role</th><th>Added (UTC)</th>'
        f"<th>Last sign-in</th><th>API tokens</th></tr></thead><tbody>{body}</tbody></table>"
    )


def give_feedback(
    verdict: str, answer: dict[str, Any] | None, selected: str | None, *, user: TeamUser, team: TeamStore
) -> str:
    """Record ``user``'s verdict on the answer shown (``Answer.to_dict()``, or None before any): HTML
    thanking them and saying what was recorded, or why it was not (escaped)."""
    if not answer:
        return render_error("Ask a question first; then mark its answer.")
    try:
        row = team.add_feedback(user=user.name, verdict=verdict, answer=answer, selected=selected)
    except TeamError as error:
        return render_error(str(error))
    except Exception:
        LOG.exception("could not record feedback on %r", answer.get("question"))
        return render_error("The feedback could not be saved. The error was logged; please try again.")
    said = {
        "right": "this answer is right",
        "wrong": "this answer is wrong (it is kept for review)",
        "not_in_articles": "these articles do not answer the question",
        "answer_is": f"the answer is “{row.span}”",
    }[verdict]
    return f'<div class="qa-ok" id="qa-feedback-done">Thank you: recorded that {_e(said)}.</div>'


def manage_user(
    action: str,
    name: str | None,
    role: str | None = None,
    password: str | None = None,
    repeat: str | None = None,
    *,
    actor: TeamUser,
    team: TeamStore,
) -> str:
    """An admin's change to the team on the page: ``action`` "add" (``name``, ``role``, ``password`` typed
    twice), "passwd" (``name``, the new password twice), "role" (``name``, ``role``) or "remove" (``name``).
    HTML saying what was done or why not (escaped); the attempt goes into the audit trail either way."""
    name = (name or "").strip()
    words = {"add": "add user", "passwd": "change password", "role": "set role", "remove": "remove user"}[action]
    try:
        if not name:
            raise TeamError("Type the user's name first.")
        if action in ("add", "passwd") and (password or "") != (repeat or ""):
            raise TeamError("The two passwords differ: type the same password in both boxes.")
        if action == "add":
            team.add_user(name, role or READER, password or "")
            outcome = f"added as {role or READER}"
        elif action == "passwd":
            team.set_password(name, password or "")
            outcome = "password changed; their sign-in sessions ended"
        elif action == "role":
            team.set_role(name, role or READER)
            outcome = f"role set to {role or READER}"
        else:
            team.remove_user(name)
            outcome = "removed, with their tokens and sessions"
    except TeamError as error:
        _audit(team, actor.name, words, name or "—", False, f"refused: {error}")
        return render_error(str(error))
    _audit(team, actor.name, words, name, True, outcome)
    note = " Everyone now signs in to use this page." if action == "add" and not actor.signed_in else ""
    return f'<div class="qa-ok" id="qa-user-done">{_e(name)}: {_e(outcome)}.{_e(note)}</div>'


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


def page_footer() -> str:
    """The line at the foot of the page: the project's name and version (``qa --version`` prints the same)."""
    return f'<footer class="qa-meta" id="qa-version">corpus-qa {_e(version())}</footer>'


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


# Which role each page event needs (the guard reads it through ``event_roles``); unmarked events are readers'.
_EVENT_ROLES: weakref.WeakKeyDictionary[Callable[..., Any], str] = weakref.WeakKeyDictionary()
AUDIT_SHOWN = 50  # the newest lines of the audit trail on the Documents tab; /admin/audit shows them all
# Runs once in the browser: remembers the text last selected inside a shown passage, which the button "The
# answer is the selection" sends (the server checks that it is in a passage shown with the answer).
PAGE_JS = """() => {
  document.addEventListener("selectionchange", () => {
    const selection = window.getSelection();
    if (!selection || selection.isCollapsed || selection.rangeCount === 0) return;
    const node = selection.getRangeAt(0).commonAncestorContainer;
    const element = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
    if (element && element.closest(".qa-passage")) window.qaSelection = selection.toString();
  });
}"""
SELECTION_JS = '(sealed, selected) => [sealed, window.qaSelection || ""]'


def _needs(role: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a page event's handler as needing ``role``: the guard refuses (403) anyone below it who calls
    the event, and the handler checks again."""

    def mark(handler: Callable[..., Any]) -> Callable[..., Any]:
        _EVENT_ROLES[handler] = role
        return handler

    return mark


def event_roles(page: Any) -> EventRoles:
    """The role each event of ``page`` (a ``build_page`` page) needs, by ``fn_index`` and ``api_name``."""
    by_index: dict[int, str] = {}
    by_name: dict[str, str] = {}
    for index, block_function in page.fns.items():
        role = _EVENT_ROLES.get(block_function.fn, READER) if block_function.fn is not None else READER
        by_index[int(index)] = role
        if block_function.api_name:
            name = str(block_function.api_name)
            by_name[name] = max(role, by_name.get(name, READER), key=role_rank)
    return EventRoles(by_index=by_index, by_name=by_name)


def _with_request(gr: Any, handler: Any) -> Any:
    """Have Gradio pass the request to ``handler`` (as its ``request`` argument): Gradio looks for a
    parameter annotated ``gr.Request``, and this module's annotations are strings it cannot resolve."""
    handler.__annotations__["request"] = gr.Request
    return handler


class AnswerSeal:
    """Seals an answer the page hands to the browser (signed with a key this process made), so that
    feedback sent back with it is known to be about an answer this server gave, as it gave it."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def _mac(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).hexdigest()

    def close(self, answer: Answer) -> str:
        """``answer`` as a signed string."""
        data = json.dumps(answer.to_dict(), ensure_ascii=False).encode("utf-8")
        payload = base64.urlsafe_b64encode(zlib.compress(data)).decode("ascii")
        return f"{payload}.{self._mac(payload)}"

    def open(self, sealed: str | None) -> dict[str, Any] | None:
        """The answer (``Answer.to_dict()``) sealed in ``sealed``; None for anything this process did not seal."""
        payload, _, mac = (sealed or "").rpartition(".")
        if not payload or not hmac.compare_digest(self._mac(payload), mac):
            return None
        try:
            answer = json.loads(zlib.decompress(base64.urlsafe_b64decode(payload)))
        except (ValueError, zlib.error):
            return None
        return answer if isinstance(answer, dict) else None


def build_page(
    *, index_dir: PathLike = None, corpus_dir: PathLike = None, watcher: Any = None, team: TeamStore | None = None
) -> Any:
    """The ``gr.Blocks`` page: Ask, Search and Documents tabs, and Users for admins; nothing is loaded until
    the first question (or the status line). With a corpus ``watcher`` the status line and the document
    list refresh every few seconds and uploads are indexed while the page runs. ``team``: where uploads
    and removals are audited and feedback is kept (default: the index folder's team file). Editing shows
    to editors and admins, the audit trail and the Users tab to admins; the guard in front of the page
    (``build_app``) enforces the same, and every handler checks again."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no phoning home
    import gradio as gr

    paths = {"index_dir": index_dir, "corpus_dir": corpus_dir}
    store = team if team is not None else _team_of(index_dir)
    seal = AnswerSeal()
    modes = [DEFAULT_MODE, *(m for m in MODES if m != DEFAULT_MODE)]
    with gr.Blocks(title="Ask the corpus") as page:
        gr.Markdown("## Ask the corpus\nAnswers are copied from the articles, with the passage they came from.")
        who_html = gr.HTML(elem_id="qa-who-line")
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                question, button = _query_row(
                    gr, "Question", "How many Hellfire missiles were sold to Iraq?", "qa-question", "Ask", "qa-ask"
                )
                answer_html = gr.HTML(elem_id="qa-answer")
                alternatives_html = gr.HTML(elem_id="qa-alternatives")
                with gr.Column(visible=False, elem_id="qa-feedback") as feedback_box:
                    gr.Markdown(
                        "**Was this answer right?** If the right answer is in a passage shown here, select it and "
                        "press *The answer is the selection*."
                    )
                    with gr.Row():
                        right_button = gr.Button("Right", size="sm", elem_id="qa-fb-right")
                        wrong_button = gr.Button("Wrong", size="sm", elem_id="qa-fb-wrong")
                        absent_button = gr.Button("Not in these articles", size="sm", elem_id="qa-fb-absent")
                        span_button = gr.Button("The answer is the selection", size="sm", elem_id="qa-fb-span")
                    feedback_html = gr.HTML(elem_id="qa-feedback-output")
                    # What the feedback buttons send: the answer shown (sealed) and the text selected.
                    # (Rendered, so that the browser holds their values, but never shown.)
                    sealed_answer = gr.Textbox(elem_id="qa-answer-sealed", elem_classes=["qa-hidden"])
                    selection = gr.Textbox(elem_id="qa-selection", elem_classes=["qa-hidden"])
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
                with gr.Column(visible=False, elem_id="qa-editing") as editing_box:
                    files = gr.File(
                        label=f"Add documents ({', '.join(SUPPORTED_SUFFIXES)}; "
                        f"up to {MAX_UPLOAD_BYTES // 1_000_000} MB)",
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
                with gr.Accordion("Audit trail", open=True, visible=False, elem_id="qa-audit-box") as audit_box:
                    audit_html = gr.HTML(elem_id="qa-audit")
                    audit_button = gr.Button("Refresh", size="sm", elem_id="qa-audit-refresh")
            with gr.Tab("Users", id="users", visible=False, elem_id="qa-users-tab") as users_tab:
                users_html = gr.HTML(elem_id="qa-users")
                with gr.Row():
                    user_name = gr.Textbox(label="Name", max_length=64, elem_id="qa-user-name")
                    user_role = gr.Radio(list(ROLES), value=READER, label="Role", elem_id="qa-user-role")
                with gr.Row():
                    user_password = gr.Textbox(label="Password", type="password", elem_id="qa-user-password")
                    user_repeat = gr.Textbox(label="The same again", type="password", elem_id="qa-user-repeat")
                with gr.Row():
                    add_user_button = gr.Button("Add user", variant="primary", elem_id="qa-user-add")
                    passwd_button = gr.Button("Set password", elem_id="qa-user-passwd")
                    role_button = gr.Button("Set role", elem_id="qa-user-role-set")
                    remove_user_button = gr.Button("Remove user", variant="stop", elem_id="qa-user-remove")
                user_html = gr.HTML(elem_id="qa-user-output")
        status = gr.HTML(corpus_status(**paths, watcher=watcher))
        gr.HTML(page_footer(), elem_id="qa-footer")

        def on_load(request: Any) -> tuple[str, Any, Any, str, Any, str]:
            user = page_user(request, store)
            admin = user is not None and user.may(ADMIN)
            return (
                render_who(user),
                gr.update(visible=user is not None and user.may(EDITOR)),
                gr.update(visible=admin),
                render_audit(store.audit(limit=AUDIT_SHOWN), limit=AUDIT_SHOWN) if admin else "",
                gr.update(visible=admin),
                render_users(store.users()) if admin else "",
            )

        page.load(
            _with_request(gr, on_load),
            None,
            [who_html, editing_box, audit_box, audit_html, users_tab, users_html],
            api_visibility="private",
            queue=False,
            show_progress="hidden",
        )

        def on_ask(text: str, k: float, m: str) -> tuple[str, str, str, str, Any, str]:
            result, shown = answer_for_page(text, k, m, **paths)
            return *shown, seal.close(result) if result else "", gr.update(visible=result is not None), ""

        outputs = [answer_html, alternatives_html, passages_html, sealed_answer, feedback_box, feedback_html]
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

        def feedback_handler(verdict: str) -> Callable[..., str]:
            def on_feedback(sealed: str | None, selected: str | None, request: Any) -> str:
                answer = seal.open(sealed)
                if answer is None and sealed:
                    return render_error("This answer was given before the server restarted: ask again, then mark it.")
                user = page_user(request, store)
                if user is None:
                    return refused(user, READER)
                return give_feedback(verdict, answer, selected, user=user, team=store)

            return _with_request(gr, on_feedback)

        for verdict_button, verdict in (
            (right_button, "right"),
            (wrong_button, "wrong"),
            (absent_button, "not_in_articles"),
        ):
            verdict_button.click(
                feedback_handler(verdict), [sealed_answer, selection], feedback_html, api_visibility="private"
            )
        span_button.click(
            feedback_handler("answer_is"),
            [sealed_answer, selection],
            feedback_html,
            js=SELECTION_JS,
            api_visibility="private",
        )

        def refreshed() -> tuple[str, str, Any]:
            return (
                corpus_status(**paths, watcher=watcher),
                render_documents(**paths),
                gr.update(choices=source_files(**paths)),
            )

        def refused(user: TeamUser | None, needed: str) -> str:
            if user is None:
                return render_error("Sign in first (/signin).")
            return render_error(f"Only an {needed} may do this; you are signed in as a {user.role}.")

        @_needs(EDITOR)
        def on_upload(uploaded: list[str] | None, request: Any) -> str:
            user = page_user(request, store)
            if user is None or not user.may(EDITOR):
                return refused(user, EDITOR)
            message = upload(uploaded, corpus_dir=corpus_dir, live=watcher is not None, actor=user.name, team=store)
            if watcher is not None:
                watcher.wake()
            return message

        @_needs(EDITOR)
        def on_remove(source: str | None, request: Any) -> tuple[str, Any]:
            user = page_user(request, store)
            if user is None or not user.may(EDITOR):
                return refused(user, EDITOR), gr.update()
            message = remove(source, corpus_dir=corpus_dir, actor=user.name, team=store)
            if watcher is not None:
                watcher.wake()
            return message, gr.update(value=None)

        files.upload(_with_request(gr, on_upload), files, upload_html, api_visibility="private").then(
            lambda: None, None, files, api_visibility="private"
        )
        remove_button.click(_with_request(gr, on_remove), to_remove, [remove_html, to_remove], api_visibility="private")

        @_needs(ADMIN)
        def on_audit(request: Any) -> str:
            user = page_user(request, store)
            if user is None or not user.may(ADMIN):
                return refused(user, ADMIN)
            return render_audit(store.audit(limit=AUDIT_SHOWN), limit=AUDIT_SHOWN)

        audit_button.click(_with_request(gr, on_audit), None, audit_html, api_visibility="private")

        def user_handler(action: str) -> Callable[..., tuple[str, str, str, str]]:
            @_needs(ADMIN)
            def on_user(name: str, role: str, password: str, repeat: str, request: Any) -> tuple[str, str, str, str]:
                user = page_user(request, store)
                if user is None or not user.may(ADMIN):
                    return refused(user, ADMIN), "", "", ""
                message = manage_user(action, name, role, password, repeat, actor=user, team=store)
                # The password boxes are emptied whatever happened: a password is never left on the page.
                return message, render_users(store.users()), "", ""

            return _with_request(gr, on_user)

        for user_button, action in (
            (add_user_button, "add"),
            (passwd_button, "passwd"),
            (role_button, "role"),
            (remove_user_button, "remove"),
        ):
            user_button.click(
                user_handler(action),
                [user_name, user_role, user_password, user_repeat],
                [user_html, users_html, user_password, user_repeat],
                api_visibility="private",
            )
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


def build_app(
    *,
    index_dir: PathLike = None,
    corpus_dir: PathLike = None,
    watcher: Any = None,
    team: TeamStore | None = None,
    open_to: str = "local",
    secure_cookies: bool = False,
) -> Any:
    """The served application: the page at ``/``, a JSON route, ``GET /api/answer?q=...[&k=&mode=]``, that
    ``qa ask`` uses when a server is running, the sign-in pages (``/signin``, ``/signout``) and the whole
    audit trail for admins (``/admin/audit``), all behind the guard (``guard.TeamGuard``): once ``team``
    (default: the index folder's team file) has users, every request needs a session or a token. With no
    users it is open to ``open_to`` ("local": requests for this machine; "anyone"; "nobody").
    ``secure_cookies``: mark cookies Secure although requests arrive over plain HTTP (behind an HTTPS
    proxy that does not send ``X-Forwarded-Proto``)."""
    import gradio as gr
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse, JSONResponse
    from starlette.middleware.cors import CORSMiddleware

    store = team if team is not None else _team_of(index_dir)
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

    @api.get("/admin/audit")
    def admin_audit() -> HTMLResponse:  # the guard lets only admins this far
        body = '<p><a href="/">← Ask the corpus</a></p><h1>Audit trail</h1>' + render_audit(store.audit())
        return HTMLResponse(
            _standalone("Audit trail", body),
            headers={"Content-Security-Policy": "script-src 'none'", "Cache-Control": "no-store"},
        )

    page = build_page(index_dir=index_dir, corpus_dir=corpus_dir, watcher=watcher, team=store)
    settings = GuardSettings(team=store, events=event_roles(page), open_to=open_to, secure_cookies=secure_cookies)
    add_signin_routes(api, settings)  # before the page is mounted at "/", which would answer them otherwise
    app = gr.mount_gradio_app(
        api,
        page,
        path="/",
        css=CSS,
        js=PAGE_JS,
        max_file_size=MAX_UPLOAD_BYTES,
        show_error=False,
        run_history=False,  # no record of other people's questions kept in a shared browser
    )
    # No cross-origin reads: with this in the parent app, Gradio's own CORS middleware stands aside (it
    # would allow any origin, with credentials, on a server not addressed as localhost).
    app.add_middleware(CORSMiddleware, allow_origins=[])
    app.add_middleware(TeamGuard, settings=settings)  # added last, so it runs first, before Gradio's own
    return app


def is_loopback(host: str) -> bool:
    """True when ``host`` (an address to bind) can be reached from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_to(host: str, team: TeamStore, *, no_auth: bool = False) -> str:
    """Who may use a server bound to ``host`` without signing in while ``team`` has no users: "local" for a
    loopback address, "anyone" with ``no_auth`` (a warning is logged when there are no users), else
    "nobody" once users exist. Raises ``OpenServerError`` for another address with no users and no
    ``no_auth``: anyone who can reach it could change the corpus."""
    if is_loopback(host):
        return "local"
    if team.has_users():
        return "anyone" if no_auth else "nobody"
    if not no_auth:
        raise OpenServerError(
            f"Refusing to serve on {host} with no users: anyone who can reach it could upload and remove "
            f"documents. Add an admin first (qa users add NAME --role admin), or pass --no-auth to serve "
            f"everyone without sign-in."
        )
    LOG.warning(
        "serving on %s without sign-in (--no-auth): anyone who can reach it can upload and remove documents", host
    )
    return "anyone"


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    index_dir: PathLike = None,
    corpus_dir: PathLike = None,
    block: bool = True,
    watch_seconds: float = 2.0,
    no_auth: bool = False,
    behind_https: bool = False,
) -> Any:
    """Load the models, then serve the page and the JSON route on ``host:port`` (no share link). With
    ``block`` False the server runs in a background thread; returns the ``uvicorn.Server``.

    Once the index folder's team file (``qa.team.team_file``) has users, every request needs a sign-in
    session or an API token, whatever the address. With none, a server on a loopback address is open to
    this machine as before, and any other address raises ``OpenServerError`` unless ``no_auth`` (see
    ``open_to``). ``behind_https``: cookies are marked Secure (an HTTPS proxy stands in front).

    Every ``watch_seconds`` (0: never) the corpus folder is checked; changed files are indexed in the
    background and the new index replaces the old one in this process; questions asked meanwhile are
    answered from the old one."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # this process never reaches for a model hub
    team = _team_of(index_dir)
    policy = open_to(host, team, no_auth=no_auth)  # before the models load: a refusal comes at once
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
    app = build_app(
        index_dir=index_dir,
        corpus_dir=corpus_dir,
        watcher=watcher,
        team=team,
        open_to=policy,
        secure_cookies=behind_https,
    )
    # uvicorn takes the client address and scheme from X-Forwarded-For / -Proto sent by a proxy on this
    # machine (its default forwarded_allow_ips): sign-in slowdowns then count per real address.
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    print(f"Serving on http://{host}:{port}", flush=True)
    if block:
        server.run()
    else:
        threading.Thread(target=server.run, daemon=True).start()
    return server


if __name__ == "__main__":
    import sys

    try:
        serve(
            host=os.environ.get("QA_HOST", "127.0.0.1"),
            port=int(os.environ.get("QA_PORT", "7860")),
            no_auth=os.environ.get("QA_NO_AUTH", "") == "1",
        )
    except TeamError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
