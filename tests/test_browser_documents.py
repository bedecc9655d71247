"""The Documents, Search and timeline features in a real browser (Debian's Chromium): upload an HTML page
and a PDF made here, ask about each and follow the citation to the whole article, search, remove one and
see it gone. Screenshots of each feature go to eval/report/ (git-ignored) for a person to look at."""

from __future__ import annotations

import json
import shutil
import time
import urllib.parse
import urllib.request

import pytest

from tests.conftest import CORPUS_DIR, PROJECT_ROOT
from tests.pdf_maker import make_pdf
from tests.real_system import running_server
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SHOTS = PROJECT_ROOT / "eval" / "report" / "screenshots"

PAGE = """<!DOCTYPE html><html><head><title>Karkh water plant reopens | City News</title>
<meta name="author" content="Layla Hassan">
<meta property="article:published_time" content="2015-03-12T08:00:00Z">
<script>document.title = "hacked"</script></head>
<body><nav>Home | World | Sport</nav><article><h1>Karkh water plant reopens</h1>
<p>Engineers in Baghdad reopened the Karkh water treatment plant on Tuesday after a two-year repair that cost
48 million dollars, the city council said in a statement.</p>
<p>The plant supplies drinking water to about 1.2 million residents of the western districts of the capital.</p>
</article><footer>Copyright 2015</footer></body></html>"""

PDF_LINES = [
    "Rusafa bridge closed for repairs",
    "20 April 2016",
    "The Rusafa bridge over the Tigris will close for nine months while a",
    "Turkish contractor replaces its steel deck, the transport ministry",
    "announced on Wednesday.",
    "About 40,000 vehicles cross the bridge each day, and officials urged",
    "drivers to use the Jumhuriya bridge instead.",
]


@pytest.fixture(scope="module")
def live(real_index, tmp_path_factory):
    """A server with the live index over a copy of the corpus, and that copy's folder."""
    root = tmp_path_factory.mktemp("live-docs")
    corpus, index = root / "corpus", root / "index"
    shutil.copytree(CORPUS_DIR, corpus)
    shutil.copytree(real_index, index)
    with running_server(index, corpus_dir=corpus) as url:
        yield url, corpus


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(800)  # let the page's fade-in after an update finish
    page.screenshot(path=str(SHOTS / name), full_page=True)


def _ask(page, question: str) -> str:
    page.get_by_role("tab", name="Ask").click()
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    # The answer names the question it answers: wait for this question's, not the one shown before.
    page.wait_for_function(
        "q => { const a = document.querySelector('#qa-answer [data-question]'); return a && a.dataset.question === q; }",
        arg=question,
        timeout=120_000,
    )
    return page.locator("#qa-answer").inner_text()


def _wait_listed(page, name: str, present: bool, timeout: float = 45.0) -> float:
    """Seconds until the document list does (or no longer does) show ``name``."""
    began = time.monotonic()
    page.get_by_role("tab", name="Documents").click()
    page.wait_for_function(
        "([name, present]) => { const t = document.querySelector('#qa-documents');"
        " return t && t.innerText.includes(name) === present; }",
        arg=[name, present],
        timeout=timeout * 1000,
    )
    return time.monotonic() - began


def test_upload_ask_cite_search_and_remove(live, browser, tmp_path):
    url, corpus = live
    html_file, pdf_file = tmp_path / "karkh.html", tmp_path / "rusafa-bridge.pdf"
    html_file.write_text(PAGE, encoding="utf-8")
    pdf_file.write_bytes(make_pdf([PDF_LINES], title="Rusafa bridge closed for repairs", author="Omar Saleh"))
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(url, wait_until="networkidle")

    # Upload both; the page says what was added, and the list shows them once the index has them.
    page.get_by_role("tab", name="Documents").click()
    page.locator("#qa-upload input[type=file]").set_input_files([str(html_file), str(pdf_file)])
    page.wait_for_selector("#qa-upload-result", timeout=60_000)
    result = page.locator("#qa-upload-result").inner_text()
    assert "Added karkh.html: 1 document" in result and "Added rusafa-bridge.pdf: 1 document" in result
    assert sorted(p.name for p in corpus.iterdir() if p.is_file())[-2:] == ["karkh.html", "rusafa-bridge.pdf"]
    _wait_listed(page, "rusafa-bridge.pdf", True)
    _wait_listed(page, "karkh.html", True)
    listing = page.locator("#qa-documents").inner_text()
    assert "Rusafa bridge closed for repairs" in listing and "Omar Saleh" in listing and "2016-04-20" in listing
    assert "Karkh water plant reopens" in listing and "Layla Hassan" in listing and "2015-03-12" in listing
    _shot(page, "documents.png")

    # Ask about each file: the answer cites it.
    answer = _ask(page, "What did the repair of the Karkh plant cost?")
    assert "48 million" in answer and "karkh.html" in answer
    answer = _ask(page, "How many cars use the Rusafa bridge daily?")
    assert "40,000" in answer and "rusafa-bridge.pdf" in answer
    assert page.locator("#qa-confidence").inner_text().split(" (")[0] in ("Very likely", "Likely", "Unsure")
    _shot(page, "answer_from_pdf.png")

    # The citation opens the whole article with the cited span marked.
    with page.context.expect_page() as opened:
        page.locator("#qa-answer a.qa-cite").first.click()
    article = opened.value
    article.wait_for_load_state()
    assert article.locator("#doc-title").inner_text() == "Rusafa bridge closed for repairs"
    assert "40,000" in article.locator("mark#cited").inner_text()
    assert article.locator("#p1").count() == 1
    _shot(article, "document_view.png")
    article.close()

    # Search returns ranked passages with title and date.
    page.get_by_role("tab", name="Search").click()
    box = page.locator("#qa-search textarea")
    box.fill("bridge closure Tigris")
    box.press("Enter")
    page.wait_for_selector("#qa-search-results .qa-hit", timeout=60_000)
    first = page.locator("#qa-search-results .qa-hit").first.inner_text()
    assert first.startswith("1. Rusafa bridge closed for repairs") and "2016-04-20" in first
    _shot(page, "search.png")

    # Remove the PDF: it leaves the list and the answers.
    page.get_by_role("tab", name="Documents").click()
    page.locator("#qa-remove-choice input").click()
    page.get_by_role("option", name="rusafa-bridge.pdf").click()
    page.locator("#qa-remove").click()
    page.wait_for_selector("#qa-removed", timeout=30_000)
    _wait_listed(page, "rusafa-bridge.pdf", False)
    assert not (corpus / "rusafa-bridge.pdf").exists()
    assert "karkh.html" in page.locator("#qa-documents").inner_text()
    answer = _ask(page, "How many vehicles cross the Rusafa bridge every day?")
    assert "rusafa-bridge.pdf" not in answer
    page.close()


def test_differing_answers_show_as_a_timeline(live, browser):
    """When the answer's alternatives cite articles of different dates (as the JSON route reports them),
    the page shows them as a timeline in date order."""
    url, corpus = live
    question = "How many Hellfire missiles were sold to Iraq?"
    query = urllib.parse.urlencode({"q": question, "corpus": str(corpus)})
    with urllib.request.urlopen(f"{url}/api/answer?{query}", timeout=120) as response:
        answer = json.loads(response.read())
    entries = [answer, *answer["alternatives"]] if answer["text"] else []
    dates = sorted({e["citations"][0]["date"] for e in entries if e["citations"][0]["date"]})
    page = browser.new_page(viewport={"width": 1280, "height": 1200})
    page.goto(url, wait_until="networkidle")
    _ask(page, question)
    if len(dates) >= 2:
        shown = page.locator("#qa-timeline .qa-when").all_inner_texts()
        assert len(shown) == len(entries)
        years = [int(text.split()[-1]) for text in shown if text != "undated"]
        assert years == sorted(years) and min(years) == int(dates[0][:4]) and max(years) == int(dates[-1][:4])
    else:
        assert page.locator("#qa-timeline").count() == 0
    _shot(page, "timeline.png")
    page.close()


def test_phone_layout_shows_the_answer_on_the_first_screen(live, browser):
    url, _ = live
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(url, wait_until="networkidle")
    _ask(page, "How many US troops were on the ground in Iraq?")
    box = page.locator("#qa-answer-text").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 844, box
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "phone.png"))
    page.close()
