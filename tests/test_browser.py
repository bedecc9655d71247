"""The real page in a real browser (Debian's Chromium driven by Playwright), and the server's file routes."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.real_system import running_server

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def server(real_index):
    with running_server(real_index) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (make test does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def _ask(page, question: str) -> None:
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")


def test_question_gets_answer_and_highlighted_evidence(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1200, "height": 1400})
    page.goto(server, wait_until="networkidle")
    assert "documents" in page.locator("#qa-status").inner_text()
    _ask(page, "How many US troops were on the ground in Iraq?")
    page.wait_for_selector("#qa-answer-text", timeout=120_000)
    assert "825" in page.locator("#qa-answer-text").inner_text()
    evidence = page.locator("mark.qa-evidence").first.inner_text()
    assert "825" in evidence
    assert "US boosts missile sales to Iraq" in page.locator("#qa-answer").inner_text()
    screenshot = tmp_path / "answer.png"
    page.screenshot(path=str(screenshot), full_page=True)
    report = PROJECT_ROOT / "eval" / "report"
    report.mkdir(parents=True, exist_ok=True)
    shutil.copy(screenshot, report / "browser_answer.png")
    page.close()


def test_ask_button_and_not_found_state(server, browser):
    page = browser.new_page()
    page.goto(server, wait_until="networkidle")
    page.locator("#qa-question textarea").fill("Who won the 2014 FIFA World Cup?")
    page.locator("#qa-ask").click()
    page.wait_for_selector("#qa-not-found", timeout=120_000)
    page.close()


def test_xss_probe_is_inert_text(server, browser, tmp_path):
    page = browser.new_page()
    dialogs = []

    def record_and_dismiss(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record_and_dismiss)
    page.goto(server, wait_until="networkidle")
    _ask(page, XSS + " How many missiles?")
    page.wait_for_selector("#qa-answer-text, #qa-not-found, #qa-error", timeout=120_000)
    page.wait_for_timeout(1000)
    assert dialogs == []
    assert page.locator("#qa-answer img, #qa-passages img, #qa-alternatives img").count() == 0
    page.screenshot(path=str(tmp_path / "xss.png"), full_page=True)
    page.close()


def test_empty_question_shows_a_message(server, browser):
    page = browser.new_page()
    page.goto(server, wait_until="networkidle")
    page.locator("#qa-question textarea").fill("   ")
    page.locator("#qa-ask").click()
    page.wait_for_selector("#qa-error", timeout=60_000)
    assert "empty" in page.locator("#qa-error").inner_text()
    assert "Traceback" not in page.content()
    page.close()


def test_a_long_paste_is_refused_with_the_limit_not_cut(server, browser):
    page = browser.new_page()
    page.goto(server, wait_until="networkidle")
    box = page.locator("#qa-question textarea")
    box.fill("How many missiles? " * 263)  # 4,997 characters
    page.locator("#qa-ask").click()
    page.wait_for_selector("#qa-error", timeout=60_000)
    message = page.locator("#qa-error").inner_text()
    assert "4,996 characters" in message and "1,000" in message  # white space collapsed, then measured
    assert int(box.get_attribute("maxlength") or 0) > 5000
    page.close()


def test_clicking_an_example_asks_it(server, browser):
    page = browser.new_page()
    page.goto(server, wait_until="networkidle")
    page.get_by_text("How many Hellfire missiles were sold to Iraq?").first.click()
    page.wait_for_selector("#qa-answer-text, #qa-not-found", timeout=120_000)
    assert page.locator("#qa-question textarea").input_value() == "How many Hellfire missiles were sold to Iraq?"
    page.close()


@pytest.mark.parametrize(
    "path",
    [
        "/gradio_api/file=../../pyproject.toml",
        "/gradio_api/file=pyproject.toml",
        f"/gradio_api/file={PROJECT_ROOT}/pyproject.toml",
        "/gradio_api/file=/etc/passwd",
        "/gradio_api/file=..%2F..%2F..%2Fetc%2Fpasswd",
        "/file=/etc/passwd",
        "/file=pyproject.toml",
        "/static/../../pyproject.toml",
        "/assets/..%2F..%2Fpyproject.toml",
    ],
)
def test_file_routes_refuse_paths_outside_the_page(server, path):
    try:
        with urllib.request.urlopen(server + path, timeout=10) as response:
            body = response.read().decode("utf-8", "replace")
            status = response.status
    except urllib.error.HTTPError as error:
        body, status = error.read().decode("utf-8", "replace"), error.code
    assert "root:" not in body and "[project]" not in body and "corpus-qa" not in body, (path, status)
