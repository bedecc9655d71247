"""Many people at once, over HTTP, against the real server for a team: 8 clients asking 40 questions
together get exactly the answers the same questions get one by one, with no error; and while an editor
uploads a file through the page's own routes, every answer is the one-by-one answer from before the
upload or from after it, never a mixture and never an error."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from eval.gold import load_gold
from qa.team import TeamStore
from tests.conftest import CORPUS_DIR, PROJECT_ROOT
from tests.real_system import running_server

pytestmark = pytest.mark.slow

CLIENTS = 8
ARTICLE = """Basra refinery back at full output

By A. Reporter
3 March 2014

The Basra oil refinery produced 210,000 barrels a day in February, the oil ministry said on Monday.
"""
NEW_QUESTION = "How many barrels a day did the Basra refinery produce?"
# 39 gold questions (answerable and not) and one that only the uploaded article answers.
QUESTIONS = [gold.question for gold in load_gold(PROJECT_ROOT / "eval" / "gold.jsonl")[:39]] + [NEW_QUESTION]


@pytest.fixture(scope="module")
def team_server(real_index, tmp_path_factory):
    """``qa serve`` over copies of the corpus and index, with a team: an admin, an editor and a reader, the
    editor's token and one reader token per client. Yields (url, corpus folder, team, tokens)."""
    root = tmp_path_factory.mktemp("team-server")
    corpus, index = root / "corpus", root / "index"
    shutil.copytree(CORPUS_DIR, corpus)
    shutil.copytree(real_index, index)
    team = TeamStore.for_index(index)
    team.add_user("ann", "admin", "admin password")
    team.add_user("ed", "editor", "editor password")
    team.add_user("rob", "reader", "reader password")
    tokens = {"editor": team.add_token("ed")[1], "readers": [team.add_token("rob")[1] for _ in range(CLIENTS)]}
    with running_server(index, corpus_dir=corpus) as url:
        yield url, corpus, team, tokens


def ask(url: str, token: str, question: str) -> dict:
    """The server's answer to ``question`` (``Answer.to_dict()``) through ``/api/answer`` with ``token``."""
    request = urllib.request.Request(
        f"{url}/api/answer?{urllib.parse.urlencode({'q': question})}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read())


def ask_at_once(url: str, tokens: list[str]) -> tuple[list[tuple[int, dict]], list[str]]:
    """All of ``QUESTIONS`` asked by ``len(tokens)`` clients together (client i asks every i-th question),
    started at the same moment: ``([(question number, answer)], [errors])``."""
    start = threading.Barrier(len(tokens))
    answers: list[tuple[int, dict]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        start.wait()
        for index in range(number, len(QUESTIONS), len(tokens)):
            try:
                answer = ask(url, tokens[number], QUESTIONS[index])
            except Exception as error:
                with lock:
                    errors.append(f"{QUESTIONS[index]!r}: {error!r}")
                continue
            with lock:
                answers.append((index, answer))

    with ThreadPoolExecutor(len(tokens)) as pool:
        list(pool.map(client, range(len(tokens))))
    return answers, errors


@pytest.fixture(scope="module")
def one_by_one(team_server) -> list[dict]:
    """Each question's answer asked alone, before anything changed."""
    url, _, _, tokens = team_server
    return [ask(url, tokens["readers"][0], question) for question in QUESTIONS]


def test_eight_clients_at_once_get_the_one_by_one_answers(team_server, one_by_one):
    url, _, _, tokens = team_server
    answers, errors = ask_at_once(url, tokens["readers"])
    assert errors == []
    assert sorted(index for index, _ in answers) == list(range(len(QUESTIONS)))
    differing = [QUESTIONS[index] for index, answer in answers if answer != one_by_one[index]]
    assert differing == []


def upload_as(url: str, token: str, name: str, data: bytes) -> str:
    """Upload a file the way the page does, over HTTP with ``token``: Gradio's upload route stores it, then
    the Documents tab's upload event adds it to the corpus. Returns the event's HTML message."""
    boundary = "qa-upload-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    auth = {"Authorization": f"Bearer {token}"}
    stored = urllib.request.Request(
        f"{url}/gradio_api/upload",
        data=body,
        headers={**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(stored, timeout=60) as response:
        (server_path,) = json.loads(response.read())
    with urllib.request.urlopen(urllib.request.Request(f"{url}/config", headers=auth), timeout=60) as response:
        event = next(d for d in json.loads(response.read())["dependencies"] if d.get("api_name") == "on_upload")
    session = f"upload-{time.monotonic_ns()}"
    payload = {
        "data": [[{"path": server_path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}]],
        "fn_index": event["id"],
        "trigger_id": event["targets"][0][0],
        "session_hash": session,
        "event_data": None,
    }
    joined = urllib.request.Request(
        f"{url}/gradio_api/queue/join",
        data=json.dumps(payload).encode(),
        headers={**auth, "Content-Type": "application/json"},
    )
    urllib.request.urlopen(joined, timeout=60).close()
    stream = urllib.request.Request(f"{url}/gradio_api/queue/data?session_hash={session}", headers=auth)
    with urllib.request.urlopen(stream, timeout=120) as response:
        for line in response:
            if line.startswith(b"data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    assert message["success"], message
                    return message["output"]["data"][0]
    raise AssertionError("the upload event never completed")


def test_answers_stay_whole_while_an_editor_uploads(team_server, one_by_one):
    url, corpus, team, tokens = team_server
    assert not any(c["doc_id"] == "refinery.txt" for c in one_by_one[-1]["citations"])
    seen: list[tuple[int, dict]] = []
    errors: list[str] = []
    switched = threading.Event()
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            last = switched.is_set()  # this round begins after the new index was seen: the last one
            answers, failed = ask_at_once(url, tokens["readers"])
            seen.extend(answers)
            errors.extend(failed)
            if last:
                stop.set()

    asking = threading.Thread(target=keep_asking)
    asking.start()
    try:
        message = upload_as(url, tokens["editor"], "refinery.txt", ARTICLE.encode())
        assert "Added refinery.txt: 1 document" in message
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            latest = ask(url, tokens["readers"][0], NEW_QUESTION)
            if latest["citations"] and latest["citations"][0]["doc_id"] == "refinery.txt":
                switched.set()
                break
            time.sleep(1)
        assert switched.is_set(), "the uploaded file was never answered from"
    finally:
        switched.set()
        asking.join(timeout=900)
        stop.set()
    after = [ask(url, tokens["readers"][0], question) for question in QUESTIONS]
    assert errors == []
    assert "210,000" in (after[-1]["text"] or "")
    mixed = [QUESTIONS[i] for i, answer in seen if answer != one_by_one[i] and answer != after[i]]
    assert mixed == [] and len(seen) >= 2 * len(QUESTIONS)
    # The rounds spanned the switch: some answers came from the old index, some from the new one.
    assert any(answer == one_by_one[i] != after[i] for i, answer in seen)
    assert any(answer == after[i] != one_by_one[i] for i, answer in seen)
    (added,) = [row for row in team.audit() if row.action == "add"]
    assert (added.user, added.via, added.target, added.ok) == ("ed", "page", "refinery.txt", True)
    assert (corpus / "refinery.txt").read_text(encoding="utf-8") == ARTICLE
