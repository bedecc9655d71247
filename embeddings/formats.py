"""Read each kind of corpus file into cleaned ``Document``s: plain text and markdown, saved web pages
(``trafilatura``), PDFs (``pypdf``) and news exports with one record per JSON line or CSV row.

Every reader takes the file's bytes and its id (the path relative to the corpus folder) and returns the
documents it holds and the records it had to skip, so one bad line of an export costs that line only.
A reader raises ``UnreadableFile`` when nothing of the file can be used; its message says why and what to do.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date as calendar_date
from typing import Any

from embeddings.documents import (
    MONTHS,
    Document,
    SkippedFile,
    build_document,
    clean_article,
    text_blocks,
)

TEXT_SUFFIXES = (".txt", ".md")
HTML_SUFFIXES = (".html", ".htm")
PDF_SUFFIXES = (".pdf",)
RECORD_SUFFIXES = (".jsonl", ".csv")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + PDF_SUFFIXES + RECORD_SUFFIXES

# The largest file of each kind that is read; a larger one is skipped with a message. An article is
# rarely over a few hundred kB; an export of many articles may be large.
MAX_BYTES = {"text": 5_000_000, "html": 10_000_000, "pdf": 25_000_000, "records": 200_000_000}
MAX_PDF_PAGES = 500
MAX_DOCUMENT_CHARS = 2_000_000  # text pulled out of one PDF or page; more is a bomb, not an article
RECORD_FIELDS = ("text", "title", "date", "author", "url", "id")

_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})")
_DAY_MONTH_YEAR = re.compile(r"\b(\d{1,2})\s+(" + "|".join(MONTHS) + r")\s*,?\s+(\d{4})\b", re.IGNORECASE)
_MONTH_DAY_YEAR = re.compile(r"\b(" + "|".join(MONTHS) + r")\s+(\d{1,2}),?\s+(\d{4})\b", re.IGNORECASE)
_PDF_DATE = re.compile(r"^D:(\d{4})(\d{2})(\d{2})")
_HYPHEN_BREAK = re.compile(r"(\w)-\n(\w)")


class UnreadableFile(ValueError):
    """Nothing of a corpus file can be indexed; the message says why and what to do about it."""


@dataclass(frozen=True)
class FileContents:
    """What one corpus file holds: its documents, and the records of it that were skipped."""

    documents: tuple[Document, ...]
    skipped: tuple[SkippedFile, ...] = ()


def file_kind(name: str) -> str | None:
    """ "text", "html", "pdf" or "records" for a supported file name, else None."""
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    for kind, suffixes in (
        ("text", TEXT_SUFFIXES),
        ("html", HTML_SUFFIXES),
        ("pdf", PDF_SUFFIXES),
        ("records", RECORD_SUFFIXES),
    ):
        if suffix in suffixes:
            return kind
    return None


def normalise_date(value: object) -> str | None:
    """An ISO date (YYYY-MM-DD) from "2014-08-01[T...]", "1 August 2014", "August 1, 2014" or a PDF
    "D:20140801..." stamp; None for anything else or an impossible date (never a guess)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    year = month = day = None
    if match := _ISO_DATE.match(text) or _PDF_DATE.match(text):
        year, month, day = (int(g) for g in match.groups())
    elif match := _DAY_MONTH_YEAR.search(text):
        day, month, year = int(match.group(1)), _month(match.group(2)), int(match.group(3))
    elif match := _MONTH_DAY_YEAR.search(text):
        month, day, year = _month(match.group(1)), int(match.group(2)), int(match.group(3))
    if year is None or month is None or day is None:
        return None
    try:
        return calendar_date(year, month, day).isoformat()
    except ValueError:
        return None


def _month(name: str) -> int:
    return [m.lower() for m in MONTHS].index(name.lower()) + 1


def _decode(data: bytes, what: str) -> str:
    if b"\0" in data:
        raise UnreadableFile("binary content (NUL bytes), not text")
    try:
        return data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"not UTF-8 (byte {error.start}); re-save the {what} as UTF-8") from error


def _lines_as_blocks(text: str) -> list[tuple[bool, str]]:
    """Text whose paragraphs are single lines (as trafilatura writes them), as cleaned blocks."""
    return text_blocks(re.sub(r"\n+", "\n\n", text))


def read_text(data: bytes, doc_id: str) -> FileContents:
    """A ``.txt`` or ``.md`` article (title first, then optional date/byline lines, then paragraphs)."""
    raw = _decode(data, "file")
    if not raw.strip():
        raise UnreadableFile("empty file")
    try:
        return FileContents((clean_article(raw, doc_id=doc_id, source=doc_id),))
    except ValueError as error:
        raise UnreadableFile(str(error)) from error


def read_html(data: bytes, doc_id: str) -> FileContents:
    """A saved web page: main text, title, date, author and canonical URL as ``trafilatura`` finds them.

    Navigation, scripts, styles and comments are dropped; only a date the page states is kept (no
    guessing from copyright lines). A date or byline line under the headline is read like a text file's."""
    import trafilatura

    try:
        extracted: Any = trafilatura.bare_extraction(
            data,
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
    except Exception as error:  # lxml and trafilatura raise many kinds on malformed markup
        raise UnreadableFile(f"not a readable web page ({type(error).__name__})") from error
    if extracted is None or not (extracted.text or "").strip():
        raise UnreadableFile("no article text found in the page")
    text = extracted.text[:MAX_DOCUMENT_CHARS]
    title = (extracted.title or "").strip() or None
    try:
        document = build_document(
            doc_id,
            _lines_as_blocks(text),
            title=title,
            date=normalise_date(extracted.date),
            author=(extracted.author or "").strip() or None,
            url=(extracted.url or "").strip() or None,
            source=doc_id,
        )
    except ValueError as error:
        raise UnreadableFile(str(error)) from error
    return FileContents((document,))


def _pdf_page_blocks(text: str) -> list[str]:
    """One page's text as paragraphs. Blank lines end paragraphs; without any, a line well short of the
    page's longest one does (a headline, a dateline, the last line of a paragraph). A paragraph cut at the
    page's foot is joined with its rest later, as any page-break split is."""
    text = _HYPHEN_BREAK.sub(r"\1\2", text.replace("\r\n", "\n").replace("\r", "\n"))
    if re.search(r"\n\s*\n", text):
        return [" ".join(block.split()) for block in re.split(r"\n\s*\n", text) if block.strip()]
    lines = [" ".join(line.split()) for line in text.split("\n") if line.strip()]
    if not lines:
        return []
    width = max(len(line) for line in lines)
    paragraphs, current = [], []
    for line in lines:
        current.append(line)
        if len(line) < 0.75 * width:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return paragraphs


def read_pdf(data: bytes, doc_id: str) -> FileContents:
    """A PDF with a text layer: its pages' text, title and author from its metadata (or the first lines),
    the date printed under the title or else the document's creation date.

    Raises ``UnreadableFile`` for a damaged or encrypted PDF, one of more than ``MAX_PDF_PAGES`` pages, and a
    scan without text (which needs OCR first)."""
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnreadableFile("the PDF is encrypted; save an unprotected copy")
        if len(reader.pages) > MAX_PDF_PAGES:
            raise UnreadableFile(f"{len(reader.pages)} pages, more than {MAX_PDF_PAGES}; split it")
        pages, total = [], 0
        for page in reader.pages:
            text = page.extract_text() or ""
            total += len(text)
            if total > MAX_DOCUMENT_CHARS:
                raise UnreadableFile(f"more than {MAX_DOCUMENT_CHARS:,} characters of text; split it")
            pages.append(text)
        metadata: Any = reader.metadata or {}
        title = str(metadata.get("/Title") or "").strip() or None
        author = str(metadata.get("/Author") or "").strip() or None
        created = normalise_date(str(metadata.get("/CreationDate") or ""))
    except UnreadableFile:
        raise
    except LimitReachedError as error:
        raise UnreadableFile("the PDF expands past the reader's safety limit (a decompression bomb?)") from error
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError, OSError) as error:
        raise UnreadableFile(f"a damaged or unsupported PDF ({type(error).__name__})") from error
    except MemoryError as error:
        raise UnreadableFile("the PDF expands to more than memory holds (a decompression bomb?)") from error
    paragraphs = [paragraph for page in pages for paragraph in _pdf_page_blocks(page)]
    if not paragraphs:
        raise UnreadableFile("the PDF has no text layer (a scan?); run OCR on it and add the result")
    blocks = text_blocks("\n\n".join(paragraphs))
    try:
        document = build_document(doc_id, blocks, title=title, author=author, source=doc_id)
    except ValueError as error:
        raise UnreadableFile(str(error)) from error
    if document.date is None and created is not None:
        document = replace(document, date=created)
    return FileContents((document,))


def _record_document(record: object, doc_id: str, source: str) -> Document:
    """One export record as a document; raises ``ValueError`` saying what the record lacks."""
    if not isinstance(record, dict):
        raise ValueError('not an object with a "text" field')
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError('no "text"')

    def field(name: str) -> str | None:
        value = record.get(name)
        return str(value).strip() or None if value is not None and not isinstance(value, (dict, list)) else None

    lede = " ".join(text.split())
    document = build_document(
        doc_id,
        text_blocks(text),
        title=field("title") or "",
        date=normalise_date(field("date")),
        author=field("author"),
        url=field("url"),
        source=source,
    )
    if not document.title:
        # Without a title the record is named by its opening words, as a news list shows a lede.
        document = replace(document, title=lede if len(lede) <= 90 else lede[:90].rsplit(" ", 1)[0] + "…")
    return document


def _records(rows: list[tuple[int, object]], source: str, skipped: list[SkippedFile]) -> FileContents:
    """Documents from parsed export records numbered by line; ``skipped`` already holds the lines that did
    not parse and gains the records that are not documents."""
    documents, seen = [], set()
    for number, record in rows:
        identifier = record.get("id") if isinstance(record, dict) else None
        doc_id = f"{source}#{identifier if identifier not in (None, '') else number}"
        if doc_id in seen:
            doc_id = f"{source}#{number}"
        try:
            document = _record_document(record, doc_id, source)
        except ValueError as error:
            _skip_record(skipped, f"{source}:{number}", str(error))
            continue
        seen.add(doc_id)
        documents.append(document)
    if not documents:
        shown = "; ".join(f"line {s.path.rsplit(':', 1)[-1]}: {s.reason}" for s in skipped[:5])
        more = f"; {len(skipped) - 5} more" if len(skipped) > 5 else ""
        raise UnreadableFile(f"no usable record ({shown + more if skipped else 'no records'})")
    return FileContents(tuple(documents), tuple(skipped))


def _skip_record(skipped: list[SkippedFile], where: str, reason: str) -> None:
    skipped.append(SkippedFile(where, reason))  # logged by whoever loads the file, with the rest


def read_jsonl(data: bytes, doc_id: str) -> FileContents:
    """A news export with one JSON object per line: ``text`` required; ``title``, ``date``, ``author``,
    ``url`` and ``id`` optional. A line that is not JSON or has no text is skipped, the others kept."""
    raw = _decode(data, "export")
    rows: list[tuple[int, object]] = []
    skipped: list[SkippedFile] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as error:
            _skip_record(skipped, f"{doc_id}:{number}", f"not JSON ({error.msg})")
        except RecursionError:
            _skip_record(skipped, f"{doc_id}:{number}", "not JSON (nested too deeply)")
    return _records(rows, doc_id, skipped)


def read_csv(data: bytes, doc_id: str) -> FileContents:
    """A news export as CSV with a header row naming at least a ``text`` column (``title``, ``date``,
    ``author``, ``url`` and ``id`` optional). Rows without text are skipped, the others kept; a row is
    numbered by the line it starts on."""
    raw = _decode(data, "export")
    csv.field_size_limit(MAX_DOCUMENT_CHARS)
    try:
        reader = csv.DictReader(io.StringIO(raw, newline=""))
        header = [name.strip().lower() for name in reader.fieldnames or []]
    except csv.Error as error:
        raise UnreadableFile(f"not a readable CSV file ({error})") from error
    if "text" not in header:
        raise UnreadableFile('the CSV header has no "text" column')
    reader.fieldnames = header
    rows: list[tuple[int, object]] = []
    try:
        while True:
            first_line = reader.line_num + 1  # a quoted field may span lines: name the row by its first
            row = next(reader, None)
            if row is None:
                break
            rows.append((first_line, {key: value for key, value in row.items() if key in RECORD_FIELDS}))
    except csv.Error as error:
        raise UnreadableFile(f"CSV error at line {reader.line_num} ({error})") from error
    return _records(rows, doc_id, [])


READERS: dict[str, Callable[[bytes, str], FileContents]] = {
    "text": read_text,
    "html": read_html,
    "pdf": read_pdf,
}


def read_file(data: bytes, doc_id: str) -> FileContents:
    """The documents a corpus file holds, by its suffix. Raises ``UnreadableFile`` (with the reason) when
    none can be read, and for an unsupported suffix."""
    kind = file_kind(doc_id)
    if kind is None:
        raise UnreadableFile(f"unsupported file type; use one of {', '.join(SUPPORTED_SUFFIXES)}")
    if len(data) > MAX_BYTES[kind]:
        raise UnreadableFile(f"too large ({len(data):,} bytes > {MAX_BYTES[kind]:,})")
    if kind == "records":
        return read_csv(data, doc_id) if doc_id.lower().endswith(".csv") else read_jsonl(data, doc_id)
    return READERS[kind](data, doc_id)
