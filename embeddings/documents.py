"""Read the corpus folder and clean each article: markdown, escapes, site footers, page-break splits,
and title/author/date metadata. Cleaning is code; the files on disk are never edited."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

LOG = logging.getLogger(__name__)


MONTHS = "January February March April May June July August September October November December".split()
_DATE = re.compile(r"\b(\d{1,2})\s+(" + "|".join(MONTHS) + r")\s+(\d{4})\b")
_FOOTER = re.compile(r"To contact the \w+ and the\s+Socialist Equality Party visit:.*\Z", re.DOTALL | re.IGNORECASE)
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!$&%])")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.DOTALL)
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_SENTENCE_END = re.compile(r"[.!?:;\"”’')\]…]\s*$")
_BYLINE = re.compile(r"^(?:by|von|par)\s+", re.IGNORECASE)
# Words that open sentences and never continue a name across a page break ("... the Gulf | States").
_FUNCTION_WORDS = frozenset(
    """a an the this that these those it its he she they we i you his her their our my your there here
    in on at of for from to by with without within into onto over under after before during since until
    despite although though while when where whether which who whom whose what why how if unless because as
    and but or nor so yet also still then thus however meanwhile moreover instead indeed
    not no all some many most few each every both either neither one two three
    is are was were be been has have had do does did will would can could may might must shall should
    according among against around about above below between beyond through throughout toward towards""".split()
)
# Articles, prepositions and conjunctions: a sentence never ends in one, so a block that does was cut.
_NEVER_LAST = frozenset(
    "a an the of in on at to for from with by into onto and or but nor than as whose their its his her".split()
)
_AUTHOR = re.compile(r"^[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,4}$")


@dataclass(frozen=True)
class Document:
    """A cleaned article. ``text`` is the body (paragraphs joined by blank lines); ``date`` is ISO or None;
    ``url`` is where the article was published (when its file says); ``source`` is the corpus file it came
    from, relative to the corpus folder (one file of records holds many documents)."""

    doc_id: str
    title: str
    text: str
    date: str | None = None
    author: str | None = None
    paragraph_starts: tuple[int, ...] = ()
    url: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class SkippedFile:
    """A file of the corpus folder that was not indexed, and why."""

    path: str
    reason: str


def long_date(date: str) -> str:
    """An ISO date as people write it: "2014-08-01" -> "1 August 2014"."""
    year, month, day = date.split("-")
    return f"{int(day)} {MONTHS[int(month) - 1]} {year}"


def document_header(document: Document) -> str:
    """The article's title and date as a dateline, e.g. "US boosts missile sales to Iraq (1 August 2014)"."""
    return f"{document.title} ({long_date(document.date)})" if document.date else document.title


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


def _header(blocks: list[tuple[bool, str]]) -> tuple[str | None, str | None, list[tuple[bool, str]]]:
    """Date and author from at most two short blocks at the top; returns them and the blocks left."""
    author = date = None
    while blocks and len(blocks[0][1].split()) <= 10 and not blocks[0][0]:
        candidate = blocks[0][1]
        found_date = _parse_date(candidate)
        rest = _BYLINE.sub("", _DATE.sub("", candidate).strip(" ,|-–—·"))
        if found_date is None and not _AUTHOR.match(rest):
            break
        if rest and _AUTHOR.match(rest) and author is None:
            author = rest
        elif rest:
            break
        date = date or found_date
        blocks = blocks[1:]
    return date, author, blocks


def _opens_sentence(word: str) -> bool:
    """Whether a capitalised word at the head of a block reads as a sentence's first word: a function word
    ("The", "In", "Despite") or a word followed by a comma or colon ("Legally,")."""
    return word.rstrip(",;:").lower() in _FUNCTION_WORDS or word[-1:] in ",;:"


def split_by_page_break(previous: str, following: str) -> bool:
    """Whether two blocks are one paragraph cut by a page break rather than two paragraphs.

    ``previous`` must stop without closing punctuation, and ``following`` must go on with the sentence: it
    starts with a lowercase letter ("... the de facto | making, and ..."), ``previous`` ends in a word no
    sentence ends in ("... damaged its pumps in | 2013."), or the cut falls inside a name,
    a capitalised word on each side ("the Gulf | States are ..."), the second not one that opens sentences.
    A paragraph that merely lacks its full stop, or ends in a reference mark (":12", "1995>"), is followed
    by a sentence's first word and stays separate."""
    if _SENTENCE_END.search(previous):
        return False
    words = following.split()
    last = previous.split()[-1] if previous.split() else ""
    if not words or not last:
        return False
    first = words[0]
    if first[0].islower() or last.lower() in _NEVER_LAST:
        return True
    return last[0].isupper() and last[-1].isalpha() and first[0].isupper() and not _opens_sentence(first)


def build_document(
    doc_id: str,
    blocks: list[tuple[bool, str]],
    *,
    title: str | None = None,
    date: str | None = None,
    author: str | None = None,
    url: str | None = None,
    source: str | None = None,
) -> Document:
    """Assemble a ``Document`` from cleaned (is_heading, text) blocks and whatever metadata the file gave.

    Without a ``title`` the first block is the title. Short date/byline blocks at the top fill ``date`` and
    ``author`` when those are missing (and are dropped from the body either way); blocks a page break split
    are joined (``split_by_page_break``). Raises ``ValueError`` when no body text is left.
    """
    if not blocks:
        raise ValueError("no text")
    if title is None:
        title, blocks = blocks[0][1], blocks[1:]
    elif blocks and blocks[0][1].strip().lower() == title.strip().lower():
        blocks = blocks[1:]  # the page repeats its title as the first heading
    found_date, found_author, blocks = _header(blocks)
    paragraphs: list[str] = []
    previous_joinable = False
    for is_heading, text in blocks:
        if paragraphs and previous_joinable and not is_heading and split_by_page_break(paragraphs[-1], text):
            paragraphs[-1] = paragraphs[-1] + " " + text
        else:
            paragraphs.append(text)
        previous_joinable = not is_heading
    if not paragraphs:
        raise ValueError("no body text under the title")
    starts, position = [], 0
    for paragraph in paragraphs:
        starts.append(position)
        position += len(paragraph) + 2
    return Document(
        doc_id,
        title,
        "\n\n".join(paragraphs),
        date or found_date,
        author or found_author,
        tuple(starts),
        url=url,
        source=source,
    )


def text_blocks(raw: str) -> list[tuple[bool, str]]:
    """The (is_heading, text) blocks of an article's raw text, footer cut and markdown and escapes removed."""
    raw = raw.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    return _blocks(_FOOTER.sub("", raw))


def clean_article(raw: str, *, doc_id: str, source: str | None = None) -> Document:
    """Turn one plain-text or markdown article into a ``Document``.

    The title is the first heading, or else the first line. Short lines right under it that hold a
    "D Month YYYY" date and/or a capitalised name become ``date`` and ``author``. The footer is cut,
    escapes and markdown are removed, and paragraphs a page break split are joined. Raises ``ValueError``
    when no body text is left.
    """
    return build_document(doc_id, text_blocks(raw), source=source)
