"""Read the corpus folder and clean each article: markdown, escapes, site footers, page-break splits,
and title/author/date metadata. Cleaning is code; the files on disk are never edited."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from embeddings.errors import CorpusNotFoundError

LOG = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md")
MAX_FILE_BYTES = 5_000_000  # a larger "article" is almost surely not one; skipped with a warning

MONTHS = "January February March April May June July August September October November December".split()
_DATE = re.compile(r"\b(\d{1,2})\s+(" + "|".join(MONTHS) + r")\s+(\d{4})\b")
_FOOTER = re.compile(r"To contact the \w+ and the\s+Socialist Equality Party visit:.*\Z", re.DOTALL | re.IGNORECASE)
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!$&%])")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.DOTALL)
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_SENTENCE_END = re.compile(r"[.!?:;\"”’')\]…]\s*$")
_AUTHOR = re.compile(r"^[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,4}$")


@dataclass(frozen=True)
class Document:
    """A cleaned article. ``text`` is the body (paragraphs joined by blank lines); ``date`` is ISO or None."""

    doc_id: str
    title: str
    text: str
    date: str | None = None
    author: str | None = None
    paragraph_starts: tuple[int, ...] = ()


@dataclass(frozen=True)
class SkippedFile:
    """A file of the corpus folder that was not indexed, and why."""

    path: str
    reason: str


def document_header(document: Document) -> str:
    """The article's title and date as a dateline, e.g. "US boosts missile sales to Iraq (1 August 2014)"."""
    header = document.title
    if document.date:
        year, month, day = document.date.split("-")
        header += f" ({int(day)} {MONTHS[int(month) - 1]} {year})"
    return header


def _strip_markdown(line: str) -> str:
    line = _LINK.sub(r"\1", line)
    line = _BOLD.sub(r"\2", line)
    line = _ITALIC.sub(r"\1", line)
    return _ESCAPE.sub(r"\1", line)


def _parse_date(text: str) -> str | None:
    match = _DATE.search(text)
    if not match:
        return None
    day, month, year = int(match.group(1)), MONTHS.index(match.group(2)) + 1, int(match.group(3))
    return f"{year:04d}-{month:02d}-{day:02d}"


def _blocks(raw: str) -> list[tuple[bool, str]]:
    """Split text at blank lines into (is_heading, text) blocks, lines of a block joined by a space."""
    blocks = []
    for block in re.split(r"\n\s*\n", raw):
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        is_heading = bool(_HEADING.match(lines[0]))
        lines[0] = _HEADING.sub("", lines[0])
        text = " ".join(_strip_markdown(line) for line in lines)
        text = re.sub(r"[ \t]+", " ", text).strip()
        if text:
            blocks.append((is_heading, text))
    return blocks


def clean_article(raw: str, *, doc_id: str) -> Document:
    """Turn one article's raw text into a ``Document``.

    The title is the first heading, or else the first line. Short lines right under it that hold a
    "D Month YYYY" date and/or a capitalised name become ``date`` and ``author``. The footer is cut,
    escapes and markdown are removed, and a paragraph that stops without closing punctuation is joined
    with the next one (a page break split it). Raises ``ValueError`` when no body text is left.
    """
    raw = raw.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    raw = _FOOTER.sub("", raw)
    blocks = _blocks(raw)
    if not blocks:
        raise ValueError("no text")
    title = blocks[0][1]
    body_blocks = blocks[1:]
    author = date = None
    # Metadata sits in at most two short blocks under the title.
    while body_blocks and len(body_blocks[0][1].split()) <= 10 and not body_blocks[0][0]:
        candidate = body_blocks[0][1]
        found_date = _parse_date(candidate)
        rest = _DATE.sub("", candidate).strip(" ,|-")
        if found_date is None and not _AUTHOR.match(rest):
            break
        if rest and _AUTHOR.match(rest) and author is None:
            author = rest
        elif rest:
            break
        date = date or found_date
        body_blocks = body_blocks[1:]
    paragraphs: list[str] = []
    previous_open = False
    for is_heading, text in body_blocks:
        if paragraphs and previous_open and not is_heading:
            paragraphs[-1] = paragraphs[-1] + " " + text
        else:
            paragraphs.append(text)
        previous_open = not is_heading and not _SENTENCE_END.search(text)
    if not paragraphs:
        raise ValueError("no body text under the title")
    starts, position = [], 0
    for paragraph in paragraphs:
        starts.append(position)
        position += len(paragraph) + 2
    return Document(doc_id, title, "\n\n".join(paragraphs), date, author, tuple(starts))


def corpus_files(corpus_dir: str | Path) -> list[Path]:
    """The indexable files of ``corpus_dir`` (recursive, sorted), never following a link out of it."""
    root = Path(corpus_dir).resolve()
    files = []
    for directory, _, names in os.walk(root, followlinks=False):
        for name in names:
            path = Path(directory) / name
            if path.suffix.lower() in SUPPORTED_SUFFIXES and not name.startswith("."):
                files.append(path)
    return sorted(files)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
        return True
    except (ValueError, OSError):
        return False


def corpus_signature(corpus_dir: str | Path) -> tuple[tuple[str, int, int], ...]:
    """(relative path, size, modification time) of every indexable file: a cheap, stat-only way to notice
    that the corpus changed (``corpus_fingerprint`` reads every byte). Empty for a missing folder."""
    root = Path(corpus_dir).resolve()
    signature = []
    for path in corpus_files(root) if root.is_dir() else []:
        try:
            stat = path.stat()
        except OSError:
            continue
        signature.append((str(path.relative_to(root)), stat.st_size, stat.st_mtime_ns))
    return tuple(signature)


def corpus_fingerprint(corpus_dir: str | Path) -> str:
    """SHA-256 over the names and bytes of the indexable files: it changes when any file changes."""
    root = Path(corpus_dir).resolve()
    digest = hashlib.sha256()
    for path in corpus_files(root):
        digest.update(str(path.relative_to(root)).encode("utf-8", "surrogateescape") + b"\0")
        try:
            if _inside(path, root):
                digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError:
            digest.update(b"unreadable")
    return digest.hexdigest()


def load_corpus(corpus_dir: str | Path) -> tuple[list[Document], list[SkippedFile]]:
    """Read and clean every ``.txt``/``.md`` file under ``corpus_dir``.

    Returns the documents and the files skipped (not UTF-8, empty, too large, binary, a link leading out
    of the folder), each skip also logged as a warning naming the file. Raises ``CorpusNotFoundError`` (a
    ``FileNotFoundError``) when the folder does not exist.
    """
    root = Path(corpus_dir).resolve()
    if not root.is_dir():
        raise CorpusNotFoundError(
            f"Corpus folder not found: {corpus_dir}. Create it and put .txt or .md articles in it."
        )
    documents, skipped = [], []

    def skip(path: Path, reason: str) -> None:
        skipped.append(SkippedFile(str(path), reason))
        LOG.warning("skipped %s: %s", path, reason)

    for path in corpus_files(root):
        doc_id = str(path.relative_to(root))
        if not _inside(path, root):
            skip(path, "a link pointing outside the corpus folder")
            continue
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                skip(path, f"too large ({size:,} bytes > {MAX_FILE_BYTES:,})")
                continue
            data = path.read_bytes()
        except OSError as error:
            skip(path, f"unreadable ({error.strerror or error})")
            continue
        if b"\0" in data:
            skip(path, "binary content (NUL bytes), not text")
            continue
        try:
            raw = data.decode("utf-8")
        except UnicodeDecodeError as error:
            skip(path, f"not UTF-8 (byte {error.start}); re-save it as UTF-8")
            continue
        if not raw.strip():
            skip(path, "empty file")
            continue
        try:
            documents.append(clean_article(raw, doc_id=doc_id))
        except ValueError as error:
            skip(path, str(error))
    return documents, skipped
