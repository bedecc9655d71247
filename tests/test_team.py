"""The team file (users, tokens, sessions, audit trail, feedback) and the commands that manage it: secrets
never kept in clear, mode 0600, roles and their limits, sessions ending after 12 idle hours, slowed
guessing, and feedback exported as gold pairs that ``eval.gold`` reads."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

import cli
from eval.gold import load_gold
from qa.team import (
    SESSION_IDLE_SECONDS,
    ExportExistsError,
    FeedbackError,
    InvalidUserError,
    LastAdminError,
    PasswordHashError,
    SignInThrottle,
    TeamStore,
    TeamUser,
    UnknownTokenError,
    UnknownUserError,
    UserExistsError,
    find_span,
    hash_password,
    team_file,
    verify_password,
)

PASSWORD = "correct horse battery"


@pytest.fixture
def team(tmp_path) -> TeamStore:
    return TeamStore.for_index(tmp_path / "index")


def _answer(text="5,000", question="How many missiles?", doc="missiles.txt"):
    passage = "The $700 million deal involves the provision of an additional 5,000 missiles,\non top of 780."
    start = passage.find(text) if text else 0
    citation = {
        "doc_id": doc,
        "title": "US boosts missile sales",
        "date": "2014-08-01",
        "passage": passage,
        "start": start,
        "end": start + len(text or ""),
        "chunk_id": "c1",
        "paragraph": 2,
        "doc_start": 0,
    }
    retrieved = {"doc_id": "talks.md", "text": "Maliki travelled to Washington for talks with Obama.", "title": "Talks"}
    return {
        "text": text,
        "score": 0.8,
        "citations": [citation] if text else [],
        "alternatives": [],
        "question": question,
        "passages": [retrieved],
    }


def test_team_file_lives_beside_the_index_folder_not_inside(tmp_path):
    assert team_file(tmp_path / "index") == tmp_path / "index.team.sqlite"
    assert team_file(tmp_path / "index/") == tmp_path / "index.team.sqlite"


def test_reading_a_missing_file_creates_nothing(team):
    assert not team.has_users() and team.users() == [] and team.audit() == [] and team.feedback() == []
    assert team.token_user("qa_nothing") is None and team.session_user("nothing") is None
    assert not team.path.exists()


def test_file_is_private_and_holds_no_secret_in_clear(team):
    team.add_user("ann", "admin", PASSWORD)
    _, token = team.add_token("ann")
    session = team.start_session("ann")
    assert stat.S_IMODE(team.path.stat().st_mode) == 0o600
    raw = team.path.read_bytes()
    for secret in (PASSWORD, token, session, token[len("qa_") :]):
        assert secret.encode() not in raw
    assert b"scrypt$" in raw


def test_a_file_open_to_others_is_made_private_again(team, caplog):
    team.add_user("ann", "admin", PASSWORD)
    os.chmod(team.path, 0o644)
    again = TeamStore(team.path)
    assert again.has_users()
    assert stat.S_IMODE(team.path.stat().st_mode) == 0o600
    assert "now 0600" in caplog.text


def _scrypt_hash(password, n, r=8, p=1, maxmem=2**30):
    """A hash in ``hash_password``'s format made with parameters of the caller's choice."""
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=32)
    return f"scrypt${n}${r}${p}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def test_passwords_are_salted_scrypt_hashes():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second and first.startswith("scrypt$131072$8$1$")  # N=2^17, r=8, p=1
    assert verify_password(PASSWORD, first) and not verify_password(PASSWORD + "!", first)
    assert not verify_password(PASSWORD, "scrypt$broken") and not verify_password(PASSWORD, "md5$x$y$z$a$b")
    assert not verify_password(PASSWORD, first.replace("$131072$", "$131071$"))  # damaged: not a power of 2


def test_older_hashes_verify_and_uncomputable_ones_are_errors_not_wrong_passwords(caplog):
    older = _scrypt_hash(PASSWORD, 2**15)  # what earlier versions wrote
    assert verify_password(PASSWORD, older) and not verify_password("another password", older)
    # Well formed, but N=2^20 with r=8 needs 1 GiB (128 * r * N bytes): more than the server allows.
    needs_a_gibibyte = "$".join(["scrypt", str(2**20), "8", "1", base64.b64encode(b"s" * 16).decode(), "A" * 44])
    with pytest.raises(PasswordHashError, match="N=1048576"):
        verify_password(PASSWORD, needs_a_gibibyte)
    assert "cannot be checked" in caplog.text


def test_users_roles_and_their_limits(team):
    with pytest.raises(LastAdminError, match="first user must be an admin"):
        team.add_user("rob", "reader", PASSWORD)
    team.add_user("ann", "admin", PASSWORD)
    team.add_user("rob", "reader", PASSWORD)
    with pytest.raises(UserExistsError):
        team.add_user("ROB", "editor", PASSWORD)  # names are one whatever their case
    for name in ("", "<img src=x>", "a b", "-dash", "x" * 65):
        with pytest.raises(InvalidUserError):
            team.add_user(name, "reader", PASSWORD)
    with pytest.raises(InvalidUserError, match="too short"):
        team.add_user("eve", "editor", "short")
    with pytest.raises(InvalidUserError, match="Unknown role"):
        team.add_user("eve", "owner", PASSWORD)
    with pytest.raises(LastAdminError, match="last admin"):
        team.remove_user("ann")
    with pytest.raises(UnknownUserError):
        team.remove_user("nobody")
    assert [(u.name, u.role) for u in team.users()] == [("ann", "admin"), ("rob", "reader")]
    assert team.user("Rob").may("reader") and not team.user("rob").may("editor")
    assert team.user("ann").may("editor") and team.user("ann").may("admin")


def test_a_role_change_holds_from_the_next_request_and_keeps_an_admin(team):
    team.add_user("ann", "admin", PASSWORD)
    team.add_user("rob", "reader", PASSWORD)
    secret, (_, token) = team.start_session("rob"), team.add_token("rob")
    assert team.set_role("ROB", "editor").role == "editor"
    assert team.session_user(secret).may("editor") and team.token_user(token).may("editor")
    with pytest.raises(LastAdminError, match="last admin"):
        team.set_role("ann", "editor")
    with pytest.raises(UnknownUserError):
        team.set_role("nobody", "editor")
    with pytest.raises(InvalidUserError, match="Unknown role"):
        team.set_role("rob", "owner")
    team.set_role("rob", "admin")
    assert team.set_role("ann", "reader").role == "reader"  # another admin remains
    assert [(u.name, u.role) for u in team.users()] == [("ann", "reader"), ("rob", "admin")]


def test_an_admin_sets_a_role_on_the_page_and_the_audit_trail_says_so(team):
    import app

    team.add_user("ann", "admin", PASSWORD)
    team.add_user("rob", "reader", PASSWORD)
    admin = team.user("ann")
    done = app.manage_user("role", "rob", "editor", "", "", actor=admin, team=team)
    assert "role set to editor" in done and team.user("rob").role == "editor"
    refused = app.manage_user("role", "ann", "reader", "", "", actor=admin, team=team)
    assert "last admin" in refused and team.user("ann").role == "admin"
    rows = team.audit()
    assert [(r.action, r.target, r.ok) for r in rows[:2]] == [("set role", "ann", False), ("set role", "rob", True)]


def test_sign_in_tokens_and_their_revocation(team):
    team.add_user("ann", "admin", PASSWORD)
    assert team.authenticate("ann", PASSWORD).role == "admin"
    assert team.authenticate("ann", "wrong password") is None
    assert team.authenticate("nobody", PASSWORD) is None
    token_id, token = team.add_token("ann", label="laptop")
    assert token.startswith("qa_") and team.token_user(token).name == "ann"
    assert team.token_user(token + "x") is None
    (listed,) = team.tokens()
    assert listed.token_id == token_id and listed.label == "laptop" and listed.last_used
    with pytest.raises(UnknownUserError):
        team.add_token("nobody")
    assert team.revoke_token(token).token_id == token_id  # by the token itself, or by its id
    assert team.token_user(token) is None
    with pytest.raises(UnknownTokenError):
        team.revoke_token(token_id)


def test_sessions_end_after_twelve_idle_hours_and_on_password_change(team):
    team.add_user("ann", "admin", PASSWORD)
    began = 1_000_000.0
    secret = team.start_session("ann", now=began)
    assert team.session_user(secret, now=began + SESSION_IDLE_SECONDS - 5).name == "ann"  # and kept alive
    assert team.session_user(secret, now=began + 2 * SESSION_IDLE_SECONDS - 10).name == "ann"
    assert team.session_user(secret, now=began + 3 * SESSION_IDLE_SECONDS) is None  # idle 12 h and more
    assert team.session_user(secret, now=began) is None  # and gone for good
    secret = team.start_session("ann")
    team.set_password("ann", "another password")
    assert team.session_user(secret) is None
    secret = team.start_session("ann")
    team.end_session(secret)
    assert team.session_user(secret) is None


def test_removing_a_user_ends_their_tokens_and_sessions(team):
    team.add_user("ann", "admin", PASSWORD)
    team.add_user("ed", "editor", PASSWORD)
    _, token = team.add_token("ed")
    secret = team.start_session("ed")
    team.remove_user("ed")
    assert team.token_user(token) is None and team.session_user(secret) is None and team.tokens() == []


def test_audit_trail_newest_first(team):
    team.record(user="ann", via="page", action="add", target="a.txt", ok=True, outcome="added")
    team.record(user="bob", via="command line", action="remove", target="b.txt", ok=False, outcome="refused")
    rows = team.audit()
    assert [(r.user, r.action, r.target, r.ok) for r in rows] == [
        ("bob", "remove", "b.txt", False),
        ("ann", "add", "a.txt", True),
    ]
    assert [r.target for r in team.audit(limit=1)] == ["b.txt"]


def test_a_selection_is_found_in_a_shown_passage_whatever_its_spaces():
    answer = _answer()
    assert find_span(answer, "additional  5,000 \n missiles") == ("additional 5,000 missiles", "missiles.txt")
    assert find_span(answer, "missiles,  on top") == ("missiles,\non top", "missiles.txt")
    assert find_span(answer, "Washington") == ("Washington", "talks.md")  # a retrieved passage
    with pytest.raises(FeedbackError, match="not in any passage"):
        find_span(answer, "Tomahawk")
    with pytest.raises(FeedbackError, match="Select the answer"):
        find_span(answer, "   ")


def test_feedback_is_kept_with_its_question_answer_citation_and_user(team):
    row = team.add_feedback(user="rob", verdict="right", answer=_answer())
    assert (row.user, row.question, row.answer) == ("rob", "How many missiles?", "5,000")
    assert row.citation == {
        "doc_id": "missiles.txt",
        "title": "US boosts missile sales",
        "date": "2014-08-01",
        "paragraph": 2,
        "chunk_id": "c1",
        "quote": "5,000",
    }
    with pytest.raises(FeedbackError, match="Unknown verdict"):
        team.add_feedback(user="rob", verdict="meh", answer=_answer())
    with pytest.raises(FeedbackError, match="Ask a question first"):
        team.add_feedback(user="rob", verdict="right", answer={})
    assert [f.verdict for f in team.feedback()] == ["right"]


def test_export_writes_gold_pairs_that_the_eval_reads(team, tmp_path):
    team.add_feedback(user="rob", verdict="right", answer=_answer(question="How many missiles?"))
    team.add_feedback(
        user="rob", verdict="answer_is", answer=_answer(question="What was added?"), selected="additional 5,000"
    )
    team.add_feedback(user="ann", verdict="not_in_articles", answer=_answer(question="Who won the World Cup?"))
    team.add_feedback(user="ann", verdict="right", answer=_answer(text=None, question="How tall is Obama?"))
    team.add_feedback(user="ann", verdict="wrong", answer=_answer(question="How many were delivered?"))
    team.add_feedback(user="ed", verdict="wrong", answer=_answer(question="how many   MISSILES?"))  # the latest
    out = tmp_path / "feedback.jsonl"
    report = team.export_gold(out)
    assert report.written == 3 and report.superseded == 1
    assert sorted(r.question for r in report.for_review) == ["How many were delivered?", "how many   MISSILES?"]
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {tuple(sorted(r)) for r in rows} <= {
        ("answers", "doc", "id", "kind", "question"),
        ("answers", "id", "kind", "question"),
    }
    by_question = {r["question"]: r for r in rows}
    assert by_question["What was added?"]["answers"] == ["additional 5,000"]
    assert by_question["What was added?"]["doc"] == "missiles.txt"
    assert by_question["Who won the World Cup?"]["answers"] == []
    assert by_question["How tall is Obama?"]["answers"] == []  # an abstention confirmed right
    gold = load_gold(out)
    assert [g.answerable for g in gold] == [True, False, False]
    with pytest.raises(ExportExistsError, match="--force"):
        team.export_gold(out)
    assert team.export_gold(out, replace=True).written == 3


def test_failed_sign_ins_wait_longer_and_longer():
    now = [0.0]
    throttle = SignInThrottle(clock=lambda: now[0])
    assert [throttle.delay(n) for n in range(9)] == [0, 1, 2, 4, 8, 16, 32, 60, 60]
    assert throttle.wait_seconds("ann", "10.0.0.1") == 0
    assert throttle.begin("ann", "10.0.0.1") == 0
    assert throttle.failed("ann", "10.0.0.1") == 1
    assert throttle.wait_seconds("ANN", "10.0.0.2") == 1  # the name waits, from any address
    assert throttle.wait_seconds("bob", "10.0.0.1") == 1  # and the address, for any name
    now[0] = 1.0
    assert throttle.begin("ann", "10.0.0.1") == 0
    assert throttle.failed("ann", "10.0.0.1") == 2
    now[0] = 2.5
    assert throttle.wait_seconds("ann", "10.0.0.3") == pytest.approx(0.5)
    assert throttle.begin("ann", "10.0.0.3") == pytest.approx(0.5)  # refused, and not counted
    now[0] = 3.0
    assert throttle.begin("ann", "10.0.0.1") == 0
    throttle.succeeded("ann", "10.0.0.1")
    assert throttle.wait_seconds("ann", "10.0.0.1") == 0
    throttle.begin("bob", "10.0.0.9")
    now[0] += 901  # forgotten after 15 minutes without a failure
    assert throttle.wait_seconds("bob", "10.0.0.9") == 0
    assert throttle.begin("bob", "10.0.0.9") == 0 and throttle.wait_seconds("bob", "10.0.0.9") == 1


def test_a_sign_in_counts_as_failed_from_the_moment_it_begins():
    now = [0.0]
    throttle = SignInThrottle(clock=lambda: now[0])
    # Tries sent together: only the first is let through to the password check; it counts at once.
    assert [throttle.begin("ann", "10.0.0.1") for _ in range(16)] == [0] + [1] * 15
    now[0] = 0.5  # the password check took half a second: the wait runs from its answer
    assert throttle.failed("ann", "10.0.0.1") == 1
    assert throttle.wait_seconds("ann", "10.0.0.1") == 1


def test_the_throttle_forgets_idle_counts_and_keeps_at_most_its_limit():
    now = [0.0]
    throttle = SignInThrottle(clock=lambda: now[0], max_entries=100)
    for number in range(1000):
        now[0] += 0.001
        throttle.begin(f"guess{number}", f"10.1.{number // 250}.{number % 250}")
    assert len(throttle._failures) <= 100
    assert throttle.wait_seconds("guess999", "10.9.9.9") == pytest.approx(1)  # the newest counts are kept
    now[0] += 901
    throttle.begin("ann", "10.0.0.1")
    assert len(throttle._failures) == 2  # every count idle for 15 minutes went on that write


# The command line -------------------------------------------------------------------------------------


def _run(monkeypatch, capsys, argv, stdin=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    status = cli.main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_users_tokens_and_audit_commands(tmp_path, monkeypatch, capsys):
    index = ["--index", str(tmp_path / "index")]
    status, _, err = _run(
        monkeypatch, capsys, ["users", "add", "rob", "--role", "reader", "--password-stdin", *index], "pw\n"
    )
    assert status == 2 and "too short" in err
    status, _, err = _run(monkeypatch, capsys, ["users", "add", "rob", "--role", "reader", *index])
    assert status == 2 and "--password-stdin" in err  # no terminal to ask on
    status, out, _ = _run(
        monkeypatch, capsys, ["users", "add", "ann", "--role", "admin", "--password-stdin", *index], PASSWORD + "\n"
    )
    assert status == 0 and "Added ann (admin)" in out
    status, out, _ = _run(
        monkeypatch, capsys, ["users", "add", "rob", "--role", "reader", "--password-stdin", *index], PASSWORD + "\r\n"
    )
    team = TeamStore.for_index(tmp_path / "index")
    assert status == 0 and team.authenticate("rob", PASSWORD) is not None
    status, out, err = _run(monkeypatch, capsys, ["tokens", "add", "rob", "--label", "laptop", *index])
    token = out.strip()
    assert status == 0 and token.startswith("qa_") and "shown this once" in err
    assert team.token_user(token) == team.user("rob")
    status, out, _ = _run(monkeypatch, capsys, ["tokens", "list", *index])
    assert "laptop" in out and token not in out
    token_id = out.split()[0]
    assert _run(monkeypatch, capsys, ["tokens", "revoke", token_id, *index])[0] == 0
    assert team.token_user(token) is None
    status, out, _ = _run(
        monkeypatch, capsys, ["users", "passwd", "rob", "--password-stdin", *index], "new password 1\n"
    )
    assert status == 0 and team.authenticate("rob", "new password 1") is not None
    status, out, _ = _run(monkeypatch, capsys, ["users", "role", "rob", "--role", "editor", *index])
    assert status == 0 and "rob is now editor" in out and team.user("rob") == TeamUser("rob", "editor")
    status, _, err = _run(monkeypatch, capsys, ["users", "role", "ann", "--role", "reader", *index])
    assert status == 2 and "last admin" in err
    status, _, err = _run(monkeypatch, capsys, ["users", "remove", "ann", *index])
    assert status == 2 and "last admin" in err
    assert _run(monkeypatch, capsys, ["users", "remove", "rob", *index])[0] == 0
    status, out, _ = _run(monkeypatch, capsys, ["users", "list", *index])
    assert out.startswith("ann\tadmin")
    status, out, _ = _run(monkeypatch, capsys, ["audit", *index])
    actions = [line.split("\t")[3] for line in out.splitlines()]
    assert actions == [
        "remove user",
        "set role",
        "change password",
        "revoke token",
        "add token",
        "add user",
        "add user",
    ]
    assert all(line.split("\t")[2] == "command line" for line in out.splitlines())


def test_add_and_remove_on_the_command_line_are_audited_as_the_system_user(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("getpass.getuser", lambda: "operator")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    article = tmp_path / "dam.txt"
    article.write_text(
        "Dam repairs begin\n\nEngineers began grouting work at the Mosul dam on Monday.", encoding="utf-8"
    )
    bad = tmp_path / "bad.exe"
    bad.write_bytes(b"MZ")
    paths = ["--index", str(tmp_path / "index"), "--corpus", str(corpus)]
    assert _run(monkeypatch, capsys, ["add", *paths, str(article), str(bad)])[0] == 2
    assert _run(monkeypatch, capsys, ["remove", *paths, "dam.txt"])[0] == 0
    assert _run(monkeypatch, capsys, ["remove", *paths, "dam.txt"])[0] == 2
    rows = TeamStore.for_index(tmp_path / "index").audit()
    assert [(r.user, r.via, r.action, r.target, r.ok) for r in rows] == [
        ("operator", "command line", "remove", "dam.txt", False),
        ("operator", "command line", "remove", "dam.txt", True),
        ("operator", "command line", "add", "bad.exe", False),
        ("operator", "command line", "add", "dam.txt", True),
    ]
    assert rows[3].outcome == "added as dam.txt (1 document)" and "refused" in rows[2].outcome


def test_feedback_commands_list_and_export(tmp_path, monkeypatch, capsys):
    team = TeamStore.for_index(tmp_path / "index")
    team.add_feedback(
        user="rob", verdict="answer_is", answer=_answer(question="What was added?"), selected="5,000 missiles"
    )
    team.add_feedback(user="rob", verdict="wrong", answer=_answer(question="How many were delivered?"))
    index = ["--index", str(tmp_path / "index")]
    status, out, _ = _run(monkeypatch, capsys, ["feedback", "list", *index])
    assert status == 0 and "the answer is “5,000 missiles” (missiles.txt)" in out and "\twrong" in out
    out_file = tmp_path / "gold.jsonl"
    status, out, _ = _run(monkeypatch, capsys, ["feedback", "export", "--out", str(out_file), *index])
    assert status == 0 and "Wrote 1 gold question" in out and "for review" in out and "How many were delivered?" in out
    assert [g.answers for g in load_gold(out_file)] == [("5,000 missiles",)]
    before = out_file.read_bytes()
    status, _, err = _run(monkeypatch, capsys, ["feedback", "export", "--out", str(out_file), *index])
    assert status == 2 and "--force" in err and out_file.read_bytes() == before


class _Refusing(BaseHTTPRequestHandler):
    """A server for a team: refuses every question without the right token."""

    seen: ClassVar[list[str | None]] = []

    def do_GET(self):
        self.seen.append(self.headers.get("Authorization"))
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"error": "Sign in first"}')

    def log_message(self, *args):
        pass


def test_ask_sends_the_token_and_stops_when_a_server_refuses_it(monkeypatch, capsys):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    answered_here = []
    monkeypatch.setattr("qa.answer", lambda *a, **k: answered_here.append(a))
    monkeypatch.setenv("QA_SERVER_URL", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        monkeypatch.setenv("QA_TOKEN", "qa_wrong")
        status, _, err = _run(monkeypatch, capsys, ["ask", "How many missiles?"])
        assert status == 2 and "refused the question (401" in err and "token in $QA_TOKEN was refused" in err
        monkeypatch.delenv("QA_TOKEN")
        status, _, err = _run(monkeypatch, capsys, ["ask", "How many missiles?"])
        assert status == 2 and "QA_TOKEN is not set" in err and "--local" in err
    finally:
        server.shutdown()
        server.server_close()
    assert _Refusing.seen == ["Bearer qa_wrong", None]
    assert answered_here == []  # never answered in-process behind the server's back


class _Redirecting(BaseHTTPRequestHandler):
    """A server that sends every request on to ``target``."""

    target: ClassVar[str] = ""

    def do_GET(self):
        self.send_response(307)
        self.send_header("Location", self.target + self.path)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_ask_keeps_its_token_to_the_server_it_names(monkeypatch, capsys):
    monkeypatch.setattr("qa.answer", lambda *a, **k: pytest.fail("answered in-process"))
    monkeypatch.setenv("QA_TOKEN", "qa_secret")
    refusing = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    redirecting = ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting)
    _Redirecting.target = f"http://127.0.0.1:{refusing.server_address[1]}"
    for server in (refusing, redirecting):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    _Refusing.seen.clear()
    try:
        monkeypatch.setenv("QA_SERVER_URL", f"http://localhost:{redirecting.server_address[1]}")
        status, _, err = _run(monkeypatch, capsys, ["ask", "How many missiles?"])
        assert status == 2 and "refused the question (401" in err
    finally:
        for server in (refusing, redirecting):
            server.shutdown()
            server.server_close()
    seen, _Refusing.seen[:] = list(_Refusing.seen), []
    assert seen == [None]  # the redirect was followed without the token
    # Over plain http the token would cross the network readable: it is not sent at all.
    monkeypatch.setenv("QA_SERVER_URL", "http://192.0.2.1:7860")
    status, _, err = _run(monkeypatch, capsys, ["ask", "How many missiles?"])
    assert status == 2 and "not sending $QA_TOKEN" in err and "https://" in err
