"""Corpus ingestion: each cleaning quirk, metadata, and files that must be skipped."""

from __future__ import annotations

import logging

from embeddings.corpus import load_corpus
from embeddings.documents import clean_article
from tests.conftest import ARTICLE_MISSILES, ARTICLE_NO_DATE, CORPUS_DIR


def test_escaped_dollar_is_unescaped():
    document = clean_article(ARTICLE_MISSILES, doc_id="m")
    assert "$700 million" in document.text
    assert "\\$" not in document.text


def test_footer_is_removed_in_all_its_variants():
    for variant in ("WSWS", "WWS", "WSW"):
        raw = ARTICLE_MISSILES.replace("the WSWS and", f"the {variant} and")
        document = clean_article(raw, doc_id="m")
        assert "Socialist Equality Party" not in document.text
        assert "contact" not in document.text


def test_page_break_paragraphs_are_joined():
    document = clean_article(ARTICLE_MISSILES, doc_id="m")
    assert 'About 90 advisers were gathering intelligence "for recommendations' in document.text
    paragraphs = document.text.split("\n\n")
    assert not any(p.startswith("were gathering") for p in paragraphs)


def test_complete_paragraphs_stay_separate():
    document = clean_article(ARTICLE_MISSILES, doc_id="m")
    assert len(document.text.split("\n\n")) == 3


def test_markdown_heading_bold_links_and_italics_are_removed():
    raw = "# Title here\n\nA **bold** claim from the [*New York Times*](http://x.y) report.\n"
    document = clean_article(raw, doc_id="x")
    assert document.title == "Title here"
    assert document.text == "A bold claim from the New York Times report."


def test_metadata_title_author_date():
    document = clean_article(ARTICLE_MISSILES, doc_id="m")
    assert document.title == "US boosts missile sales to Iraq"
    assert document.author == "Peter Symonds"
    assert document.date == "2014-08-01"
    assert "Peter Symonds" not in document.text


def test_author_and_date_on_one_line():
    raw = "Iraq crisis threatens to ignite regional war\n\nBill Van Auken 13 June 2014\n\nAfter overrunning Mosul, ISIS advanced.\n"
    document = clean_article(raw, doc_id="x")
    assert (document.author, document.date) == ("Bill Van Auken", "2014-06-13")


def test_missing_date_is_none_not_a_guess():
    document = clean_article(ARTICLE_NO_DATE, doc_id="t")
    assert document.title == "Obama holds security talks with Iraqi premier Maliki"
    assert document.date is None
    assert document.author is None
    assert document.text.startswith("Iraqi Prime Minister")


def test_paragraph_starts_point_at_paragraphs():
    document = clean_article(ARTICLE_MISSILES, doc_id="m")
    for start, paragraph in zip(document.paragraph_starts, document.text.split("\n\n"), strict=True):
        assert document.text[start : start + len(paragraph)] == paragraph


def test_real_corpus_loads_cleanly():
    documents, skipped = load_corpus(CORPUS_DIR)
    assert len(documents) == 5 and not skipped
    dates = {d.doc_id: d.date for d in documents}
    assert sum(date is None for date in dates.values()) == 1
    for document in documents:
        assert "\\$" not in document.text
        assert "Socialist Equality Party" not in document.text
        assert "wsws.org" not in document.text.lower()
    missiles = next(d for d in documents if d.title == "US boosts missile sales to Iraq")
    assert "About 90 advisers were gathering intelligence" in missiles.text
    assert "Saudi Arabia and the Gulf States are deeply hostile" in missiles.text


def test_bad_files_are_skipped_with_a_warning_naming_them(tmp_path, caplog):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "good.txt").write_text(ARTICLE_NO_DATE, encoding="utf-8")
    (folder / "latin1.txt").write_bytes("Caf\xe9 au lait\n\nUne phrase.".encode("latin-1"))
    (folder / "empty.txt").write_text("", encoding="utf-8")
    (folder / "blank.md").write_text("  \n\n \n", encoding="utf-8")
    (folder / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    with caplog.at_level(logging.WARNING):
        documents, skipped = load_corpus(folder)
    assert [d.doc_id for d in documents] == ["good.txt"]
    reasons = {s.path.rsplit("/", 1)[-1]: s.reason for s in skipped}
    assert set(reasons) == {"latin1.txt", "empty.txt", "blank.md", "binary.txt", "notes.pdf"}
    assert "UTF-8" in reasons["latin1.txt"]
    assert "damaged" in reasons["notes.pdf"]
    for name in reasons:
        assert name in caplog.text
