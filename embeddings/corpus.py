"""The corpus folder: which files it holds, a cheap signature and a full fingerprint of them, and loading
every file into cleaned documents (``embeddings.formats`` reads each kind)."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from embeddings.documents import Document, SkippedFile
from embeddings.errors import CorpusNotFoundError
from embeddings.formats import MAX_BYTES, SUPPORTED_SUFFIXES, UnreadableFile, file_kind, read_file

LOG = logging.getLogger(__name__)


def corpus_files(corpus_dir: str | Path) -> list[Path]:
    """The indexable files of ``corpus_dir`` (recursive, sorted), never following a link out of it."""
    root = Path(corpus_dir).resolve()
    files = []
    for directory, _, names in os.walk(root, followlinks=False):
        for name in names:
            path = Path(directory) / name
            if file_kind(name) is not None and not name.startswith("."):
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
    """Read and clean every supported file under ``corpus_dir`` (see ``embeddings.formats``).

    Returns the documents and what was skipped: whole files (unreadable, empty, too large, not UTF-8, a
    PDF without text, a link leading out of the folder) and single records of an export, each also logged
    as a warning naming the file (and line). Raises ``CorpusNotFoundError`` (a ``FileNotFoundError``) when the
    folder does not exist.
    """
    root = Path(corpus_dir).resolve()
    if not root.is_dir():
        raise CorpusNotFoundError(
            f"Corpus folder not found: {corpus_dir}. Create it and put articles in it "
            f"({', '.join(SUPPORTED_SUFFIXES)})."
        )
    documents: list[Document] = []
    skipped: list[SkippedFile] = []

    def skip(path: Path, reason: str) -> None:
        skipped.append(SkippedFile(str(path), reason))
        LOG.warning("skipped %s: %s", path, reason)

    for path in corpus_files(root):
        doc_id = path.relative_to(root).as_posix()
        if not _inside(path, root):
            skip(path, "a link pointing outside the corpus folder")
            continue
        limit = MAX_BYTES[file_kind(path.name) or "text"]
        try:
            size = path.stat().st_size
            if size > limit:
                skip(path, f"too large ({size:,} bytes > {limit:,})")
                continue
            data = path.read_bytes()
        except OSError as error:
            skip(path, f"unreadable ({error.strerror or error})")
            continue
        try:
            contents = read_file(data, doc_id)
        except UnreadableFile as error:
            skip(path, str(error))
            continue
        documents.extend(contents.documents)
        skipped.extend(contents.skipped)
    return documents, skipped
