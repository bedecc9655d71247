"""A newsroom's server in a real browser (Debian's Chromium): an admin signs in and adds an editor and a
reader on the page; the reader asks and sees no way to upload or remove (and the server refuses it when
tried by hand); the editor uploads a file and the admin sees it in the audit trail; the reader marks
answers ("the answer is …" by selecting it in a passage, and "not in these articles"); the feedback is
exported as gold pairs and scored by ``python -m eval``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

import cli
from eval.gold import load_gold
from qa.team import TeamStore
from tests.conftest import CORPUS_DIR, PROJECT_ROOT
from tests.real_system import running_server
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SHOTS = PROJECT_ROOT / "eval" / "report" / "screenshots"
PASSWORDS = {"ann": "admin password", "ed": "editor password", "rob": "reader password"}
ARTICLE = """Basra refinery back at full output

By A. Reporter
3 March 2014

The Basra oil refinery produced 210,000 barrels a day in February, the oil ministry said on Monday.
"""
TROOPS = "How many US troops were on the ground in Iraq?"
WORLD_CUP = "Who won the 2014 World Cup?"


@pytest.fixture(scope="module")
def newsroom(real_index, tmp_path_factory):
    """A server over copies of the corpus and index whose team has one admin, as ``qa users add`` makes it.
    Yields (url, corpus folder, index folder)."""
    root = tmp_path_factory.mktemp("newsroom")
    corpus, index = root / "corpus", root / "index"
    shutil.copytree(CORPUS_DIR, corpus)
    shutil.copytree(real_index, index)
    TeamStore.for_index(index).add_user("ann", "admin", PASSWORDS["ann"])
    with running_server(index, corpus_dir=corpus) as url:
        yield url, corpus, index


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def _sign_in(browser, url: str, name: str):
    """A page of a fresh browser context (its own cookies) signed in as ``name``."""
    page = browser.new_context(viewport={"width": 1280, "height": 1200}).new_page()
    page.goto(url, wait_until="networkidle")
    assert "/signin" in page.url  # everything needs a sign-in once the team has users
    page.fill("#name", name)
    page.fill("#password", PASSWORDS[name])
    page.click("#qa-signin-go")
    page.wait_for_selector("#qa-who", timeout=60_000)
    assert page.locator("#qa-user").inner_text() == name
    return page


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def _add_user(page, name: str, role: str) -> None:
    page.get_by_role("tab", name="Users").click()
    page.locator("#qa-user-name :is(input, textarea)").fill(name)
    page.locator("#qa-user-role label").filter(has_text=role).click()
    page.locator("#qa-user-password input").fill(PASSWORDS[name])
    page.locator("#qa-user-repeat input").fill(PASSWORDS[name])
    page.locator("#qa-user-add").click()
    page.wait_for_function(
        "name => (document.querySelector('#qa-user-done') || {}).innerText?.startsWith(name + ':')", arg=name
    )
    assert page.locator("#qa-user-done").inner_text() == f"{name}: added as {role}."


def _ask(page, question: str) -> None:
    page.get_by_role("tab", name="Ask").click()
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        "q => { const a = document.querySelector('#qa-answer [data-question]'); return a && a.dataset.question === q; }",
        arg=question,
        timeout=120_000,
    )
    page.wait_for_selector("#qa-fb-span", timeout=30_000)


def _select_in_cited_passage(page, start_text: str, end_text: str) -> str:
    """Select, as a person would with the mouse, the passage text from ``start_text`` to the end of
    ``end_text`` in the answer's highlighted passage; returns the selected text."""
    return page.evaluate(
        """([first, last]) => {
            const passage = document.querySelector('#qa-answer .qa-passage');
            const walker = document.createTreeWalker(passage, NodeFilter.SHOW_TEXT);
            let node, start = null, end = null;
            while ((node = walker.nextNode())) {
                if (!start && node.data.includes(first)) start = [node, node.data.indexOf(first)];
                if (node.data.includes(last)) end = [node, node.data.indexOf(last) + last.length];
            }
            const range = document.createRange();
            range.setStart(...start);
            range.setEnd(...end);
            const selection = window.getSelection();
            selection.removeAllRanges();
            selection.addRange(range);
            return selection.toString();
        }""",
        [start_text, end_text],
    )


def test_a_newsroom_signs_in_edits_audits_and_teaches_the_gold_set(newsroom, browser, tmp_path):
    url, corpus, index = newsroom

    # The admin adds an editor and a reader on the page.
    admin = _sign_in(browser, url, "ann")
    _add_user(admin, "ed", "editor")
    _add_user(admin, "rob", "reader")
    users = admin.locator("#qa-users").inner_text()
    assert "ed\teditor" in users and "rob\treader" in users
    _shot(admin, "team_users.png")

    # The reader asks, and is offered no way to change the corpus or the team.
    reader = _sign_in(browser, url, "rob")
    _ask(reader, TROOPS)
    assert "825" in reader.locator("#qa-answer-text").inner_text()
    reader.get_by_role("tab", name="Documents").click()
    reader.wait_for_selector("#qa-documents")
    assert reader.locator("#qa-upload").count() == 0 and reader.locator("#qa-remove").count() == 0
    assert reader.locator("#qa-audit").count() == 0 and reader.get_by_role("tab", name="Users").count() == 0
    # Nor does the server take it from the reader's page when sent by hand.
    forced = reader.evaluate(
        """async () => { const form = new FormData(); form.append('files', new Blob(['x']), 'x.txt');
            return (await fetch('/gradio_api/upload', {method: 'POST', body: form})).status; }"""
    )
    assert forced == 403

    # The editor uploads a file; the admin sees it in the audit trail.
    editor = _sign_in(browser, url, "ed")
    editor.get_by_role("tab", name="Documents").click()
    article = tmp_path / "refinery.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    editor.locator("#qa-upload input[type=file]").set_input_files(str(article))
    editor.wait_for_selector("#qa-upload-result", timeout=60_000)
    assert "Added refinery.txt: 1 document" in editor.locator("#qa-upload-result").inner_text()
    editor.wait_for_function(
        "() => (document.querySelector('#qa-documents') || {}).innerText?.includes('refinery.txt')", timeout=120_000
    )
    assert editor.locator("#qa-audit").count() == 0 and editor.get_by_role("tab", name="Users").count() == 0
    admin.get_by_role("tab", name="Documents").click()
    admin.locator("#qa-audit-refresh").click()
    admin.wait_for_function(
        "() => (document.querySelector('#qa-audit') || {}).innerText?.includes('refinery.txt')", timeout=30_000
    )
    newest = admin.locator("#qa-audit-table tbody tr").first.inner_text().split("\t")
    assert newest[1:5] == ["ed", "page", "add", "refinery.txt"] and newest[5].startswith("added as refinery.txt")
    _shot(admin, "team_audit.png")

    # The reader marks answers: the right one selected in the passage (the answer still shown from before: asking
    # the same question again could race its new answer against the feedback), and a question the articles do not
    # answer.
    reader.get_by_role("tab", name="Ask").click()
    selected = _select_in_cited_passage(reader, "825", "US troops")
    assert selected == "825 US troops"
    reader.wait_for_function("() => window.qaSelection === '825 US troops'")
    reader.locator("#qa-fb-span").click()
    reader.wait_for_selector("#qa-feedback-done", timeout=30_000)
    assert reader.locator("#qa-feedback-done").inner_text() == "Thank you: recorded that the answer is “825 US troops”."
    _shot(reader, "team_feedback.png")
    _ask(reader, WORLD_CUP)
    reader.locator("#qa-fb-absent").click()
    reader.wait_for_selector("#qa-feedback-done", timeout=30_000)
    assert "do not answer" in reader.locator("#qa-feedback-done").inner_text()

    # Signing out ends the reader's session: the page asks for a sign-in again.
    reader.locator("#qa-signout").click()
    reader.wait_for_url("**/signin", timeout=30_000)
    reader.goto(url, wait_until="networkidle")
    assert "/signin" in reader.url

    # The feedback becomes gold pairs that the eval scores.
    gold_file = tmp_path / "feedback.jsonl"
    assert cli.main(["feedback", "export", "--out", str(gold_file), "--index", str(index)]) == 0
    gold = load_gold(gold_file)
    assert [(g.question, g.answers) for g in gold] == [(TROOPS, ("825 US troops",)), (WORLD_CUP, ())]
    assert gold[0].doc and gold[0].doc.endswith(".txt")
    report_dir = tmp_path / "report"
    command = ["-m", "eval", "--gold", str(gold_file), "--index", str(index), "--corpus", str(corpus)]
    scored = subprocess.run(
        [sys.executable, *command, "--out", str(report_dir)],
        cwd=PROJECT_ROOT,
        env=dict(os.environ, HF_HUB_OFFLINE="1"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert scored.returncode == 0, scored.stderr[-3000:]
    report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    assert [r["id"] for r in report["questions"]] == [g.qid for g in gold]
    assert report["questions"][0]["f1"] > 0  # the bot's "825" against the reader's "825 US troops"
