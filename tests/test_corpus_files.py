"""Adding and removing corpus files (the page's upload and remove, ``qa add``/``qa remove``): hostile files
are refused with a reason, nothing lands outside the corpus folder, the other documents stay intact."""

from __future__ import annotations

import json

import pytest

from embeddings.corpus import (
    TRASH_FOLDER,
    add_file,
    corpus_files,
    load_corpus,
    remove_file,
    safe_file_name,
)
from embeddings.errors import CorpusFileNotFoundError, FileRejectedError
from tests.conftest import ARTICLE_MISSILES, ARTICLE_NO_DATE
from tests.pdf_maker import make_bomb_pdf, make_pdf
from tests.test_formats import PAGE, PDF_PAGES


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "missiles.txt").write_text(ARTICLE_MISSILES, encoding="utf-8")
    (folder / "talks.md").write_text(ARTICLE_NO_DATE, encoding="utf-8")
    return folder


def _snapshot(folder):
    """Every file under the folder's parent (so a write outside the corpus shows) with its bytes."""
    root = folder.parent
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_added_html_and_pdf_are_read_like_the_rest(corpus):
    page = add_file(corpus, "karkh.html", PAGE.encode("utf-8"))
    report = add_file(corpus, "Karkh report.pdf", make_pdf(PDF_PAGES, title="Karkh plant reopens"))
    assert page.path == corpus / "karkh.html" and report.path == corpus / "Karkh report.pdf"
    assert [d.title for d in page.documents] == ["Karkh plant reopens"]
    documents, skipped = load_corpus(corpus)
    assert sorted(d.doc_id for d in documents) == ["Karkh report.pdf", "karkh.html", "missiles.txt", "talks.md"]
    assert skipped == []


def test_a_file_over_the_limit_is_refused_and_nothing_written(corpus):
    before = _snapshot(corpus)
    with pytest.raises(FileRejectedError, match="too large"):
        add_file(corpus, "huge.txt", b"word " * (50_000_000 // 5))
    assert _snapshot(corpus) == before


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("bomb.pdf", make_bomb_pdf(), "bomb"),
        ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog", "damaged"),
        ("export.jsonl", b"{not json}\n[1]\n", "no usable record"),
        ("photo.png", b"\x89PNG\r\n", "not a supported file type"),
        ("latin1.txt", "Caf\xe9\n\nUne phrase.".encode("latin-1"), "UTF-8"),
        ("empty.md", b"   \n", "empty"),
        ("script.html", b"<html><body><script>alert(1)</script></body></html>", "no article text"),
    ],
    ids=["pdf-bomb", "corrupt-pdf", "jsonl-without-json", "image", "latin1", "empty", "script-only-html"],
)
def test_unusable_uploads_are_refused_with_the_reason_and_the_corpus_is_intact(corpus, name, data, reason):
    before = _snapshot(corpus)
    with pytest.raises(FileRejectedError, match=reason):
        add_file(corpus, name, data)
    assert _snapshot(corpus) == before
    assert sorted(d.doc_id for d in load_corpus(corpus)[0]) == ["missiles.txt", "talks.md"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../x.txt", "x.txt"),
        ("..\\..\\windows\\x.txt", "x.txt"),
        ("/etc/passwd.txt", "passwd.txt"),
        (".hidden.md", "hidden.md"),
        ("a b<script>.html", "a b_script.html"),
        ("Report.PDF", "Report.pdf"),
        ("..txt", "document.txt"),
    ],
)
def test_names_are_reduced_to_a_safe_file_name(given, expected):
    assert safe_file_name(given) == expected


def test_a_path_in_the_name_never_writes_outside_the_corpus(corpus):
    added = add_file(corpus, "../../escape.txt", b"Escape attempt\n\nThis text tries to leave the corpus folder.")
    assert added.path == corpus / "escape.txt"
    assert not (corpus.parent / "escape.txt").exists() and not (corpus.parent.parent / "escape.txt").exists()


def test_a_name_taken_gets_a_number_instead_of_overwriting(corpus):
    original = (corpus / "missiles.txt").read_bytes()
    added = add_file(corpus, "missiles.txt", b"Another article\n\nWith its own text about something else entirely.")
    assert added.path == corpus / "missiles-2.txt"
    assert [d.doc_id for d in added.documents] == ["missiles-2.txt"]
    assert (corpus / "missiles.txt").read_bytes() == original


def test_html_scripts_never_reach_the_text(corpus):
    added = add_file(corpus, "page.html", PAGE.encode("utf-8"))
    (document,) = added.documents
    assert "alert" not in document.text and "evil" not in document.text and "<" not in document.text


def test_a_jsonl_line_that_is_not_json_is_skipped_and_the_rest_added(corpus):
    lines = [
        json.dumps({"id": "1", "title": "Dam repairs", "text": "Engineers began grouting work at the Mosul dam."}),
        "{this line is not JSON",
        json.dumps({"id": "2", "title": "Oil exports", "text": "Basra exported 3.3 million barrels a day."}),
    ]
    added = add_file(corpus, "wire.jsonl", "\n".join(lines).encode("utf-8"))
    assert [d.doc_id for d in added.documents] == ["wire.jsonl#1", "wire.jsonl#2"]
    assert [(s.path, s.reason.split(" (")[0]) for s in added.skipped] == [("wire.jsonl:2", "not JSON")]


def test_remove_moves_the_file_to_the_trash_out_of_the_index(corpus):
    kept = remove_file(corpus, "talks.md")
    assert kept.parent == corpus / TRASH_FOLDER and kept.read_text(encoding="utf-8") == ARTICLE_NO_DATE
    assert [p.name for p in corpus_files(corpus)] == ["missiles.txt"]
    assert [d.doc_id for d in load_corpus(corpus)[0]] == ["missiles.txt"]


@pytest.mark.parametrize("source", ["../corpus/../outside.txt", "/etc/passwd", "nope.txt", f"{TRASH_FOLDER}", ""])
def test_remove_refuses_anything_but_a_corpus_file(corpus, source):
    (corpus.parent / "outside.txt").write_text("keep me", encoding="utf-8")
    before = _snapshot(corpus)
    with pytest.raises(CorpusFileNotFoundError):
        remove_file(corpus, source)
    assert _snapshot(corpus) == before
