"""The corpus folder: which files it holds, a cheap signature and a full fingerprint of them, loading every
file into cleaned documents (``embeddings.formats`` reads each kind), and adding or removing a file safely."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path

from embeddings.documents import Document, SkippedFile
from embeddings.errors import CorpusFileNotFoundError, CorpusNotFoundError, FileRejectedError
from embeddings.formats import MAX_BYTES, SUPPORTED_SUFFIXES, UnreadableFile, file_kind, read_file

LOG = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20_000_000  # one added file; the page refuses larger uploads before they are stored
MAX_NAME_CHARS = 100
TRASH_FOLDER = ".trash"  # removed files go here, not into oblivion; hidden folders are never indexed
_UNSAFE_NAME_CHARS = re.compile(r"[^\w.\- ]+")


@dataclass(frozen=True)
class AddedFile:
    """A file written into the corpus folder: where, and the documents it holds (as the index will read it)."""

    path: Path
    documents: tuple[Document, ...]
    skipped: tuple[SkippedFile, ...]


def corpus_files(corpus_dir: str | Path) -> list[Path]:
    """The indexable files of ``corpus_dir`` (recursive, sorted), never following a link out of it."""
    root = Path(corpus_dir).resolve()
    files = []
    for directory, folders, names in os.walk(root, followlinks=False):
        folders[:] = [f for f in folders if not f.startswith(".")]  # hidden folders (.trash) are not corpus
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


def read_corpus_file(path: Path, root: Path) -> tuple[list[Document], list[SkippedFile]]:
    """One file of the corpus folder ``root`` read and cleaned: its documents, and what was skipped (the
    whole file, or single records of an export). Logs nothing and touches no shared state, so files can be
    read in any order or process (``embeddings.engine``) and come out the same."""
    doc_id = path.relative_to(root).as_posix()
    if not _inside(path, root):
        return [], [SkippedFile(str(path), "a link pointing outside the corpus folder")]
    limit = MAX_BYTES[file_kind(path.name) or "text"]
    try:
        size = path.stat().st_size
        if size > limit:
            return [], [SkippedFile(str(path), f"too large ({size:,} bytes > {limit:,})")]
        data = path.read_bytes()
    except OSError as error:
        return [], [SkippedFile(str(path), f"unreadable ({error.strerror or error})")]
    try:
        contents = read_file(data, doc_id)
    except UnreadableFile as error:
        return [], [SkippedFile(str(path), str(error))]
    return list(contents.documents), list(contents.skipped)


def corpus_root(corpus_dir: str | Path) -> Path:
    """``corpus_dir`` resolved; raises ``CorpusNotFoundError`` (a ``FileNotFoundError``) when it is missing."""
    root = Path(corpus_dir).resolve()
    if not root.is_dir():
        raise CorpusNotFoundError(
            f"Corpus folder not found: {corpus_dir}. Create it and put articles in it "
            f"({', '.join(SUPPORTED_SUFFIXES)})."
        )
    return root


def log_skipped(skipped: list[SkippedFile]) -> None:
    """A warning per skipped file or record, naming it (and its line) and why."""
    for item in skipped:
        LOG.warning("skipped %s: %s", item.path, item.reason)


def load_corpus(corpus_dir: str | Path, *, progress: bool = False) -> tuple[list[Document], list[SkippedFile]]:
    """Read and clean every supported file under ``corpus_dir`` (see ``embeddings.formats``).

    Returns the documents and what was skipped: whole files (unreadable, empty, too large, not UTF-8, a
    PDF without text, a link leading out of the folder) and single records of an export, each also logged
    as a warning naming the file (and line). With ``progress`` a bar counts the files on a terminal. Raises
    ``CorpusNotFoundError`` (a ``FileNotFoundError``) when the folder does not exist.
    """
    root = corpus_root(corpus_dir)
    documents: list[Document] = []
    skipped: list[SkippedFile] = []
    files = corpus_files(root)
    if progress:
        from tqdm import tqdm

        files = tqdm(files, desc="reading", unit="file", disable=None, leave=False)
    for path in files:
        read, passed_over = read_corpus_file(path, root)
        documents.extend(read)
        skipped.extend(passed_over)
    log_skipped(skipped)
    return documents, skipped


def safe_file_name(name: str) -> str:
    """A file name safe to create in the corpus folder from one a user gave: the last path component only
    (no "../", no folders, either slash), letters, digits, ".", "-", "_" and spaces, no leading dot,
    at most ``MAX_NAME_CHARS``, the supported suffix kept. Raises ``FileRejectedError`` when nothing usable
    is left or the type is not supported."""
    base = unicodedata.normalize("NFC", str(name)).replace("\\", "/").split("/")[-1].strip()
    stem, _, suffix = base.rpartition(".")
    if file_kind(f"x.{suffix}") is None or "." not in base:
        raise FileRejectedError(f"{name!r} is not a supported file type; use one of {', '.join(SUPPORTED_SUFFIXES)}.")
    stem = _UNSAFE_NAME_CHARS.sub("_", stem).strip(" ._")[: MAX_NAME_CHARS - len(suffix) - 1] or "document"
    return f"{stem}.{suffix.lower()}"


def add_file(corpus_dir: str | Path, name: str, data: bytes) -> AddedFile:
    """Write an uploaded file into ``corpus_dir`` under a safe name (``safe_file_name``; "-2", "-3" ... added
    rather than overwrite a file there), after checking that it is within ``MAX_UPLOAD_BYTES`` and that at
    least one document can be read from it. The file appears whole or not at all (written beside, then
    renamed). Raises ``FileRejectedError`` with the reason; nothing is written then."""
    root = Path(corpus_dir).resolve()
    if not root.is_dir():
        raise CorpusNotFoundError(f"Corpus folder not found: {corpus_dir}.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise FileRejectedError(
            f"{name!r} is too large ({len(data):,} bytes); the limit is {MAX_UPLOAD_BYTES:,} bytes. "
            "Split it into smaller files."
        )
    safe = safe_file_name(name)
    try:
        contents = read_file(data, safe)
    except UnreadableFile as error:
        raise FileRejectedError(f"{name!r} was not added: {error}.") from error
    target = root / safe
    stem, suffix = safe.rsplit(".", 1)
    number = 2
    while target.exists():
        target = root / f"{stem}-{number}.{suffix}"
        number += 1
    if target.name != safe:  # the documents' ids follow the name the file really gets
        contents = read_file(data, target.name)
    temporary = root / f".upload-{uuid.uuid4().hex}.{suffix}"
    try:
        with open(temporary, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, target)  # fails rather than replace a file that appeared meanwhile
    except FileExistsError as error:
        raise FileRejectedError(f"{target.name!r} appeared in the corpus meanwhile; try again.") from error
    finally:
        temporary.unlink(missing_ok=True)
    LOG.info("added %s (%d documents)", target, len(contents.documents))
    log_skipped(list(contents.skipped))
    return AddedFile(target, contents.documents, contents.skipped)


def remove_file(corpus_dir: str | Path, source: str) -> Path:
    """Move the corpus file ``source`` (a path relative to ``corpus_dir``, as ``Document.source`` holds it)
    into the corpus folder's ``.trash`` folder, where the index no longer sees it and the user can still
    get it back. Returns its new path. Raises ``CorpusFileNotFoundError`` for a name that is not an
    indexable file inside the folder (a path leading out of it included)."""
    root = Path(corpus_dir).resolve()
    path = root / source
    if not _inside(path, root) or path.is_symlink() or path.resolve() not in set(corpus_files(root)):
        raise CorpusFileNotFoundError(f"No file {source!r} in the corpus folder {corpus_dir}.")
    trash = root / TRASH_FOLDER
    trash.mkdir(exist_ok=True)
    destination = trash / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}-{path.name}"
    os.replace(path, destination)
    LOG.info("removed %s (kept as %s)", path, destination)
    return destination
