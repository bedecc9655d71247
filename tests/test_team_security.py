"""The served app's guard over every route it serves, Gradio's included (enumerated from ``app.routes``):
without a session or a token, 401 or a redirect to sign-in; with a reader's, 403 on every editing or admin
route and event; wrong and revoked tokens refused; failed sign-ins slowed, even when sent together, and
checked two at a time; oversized sign-in forms refused unread; no URL fetched; cross-site changes and
cross-origin reads refused; user-supplied text escaped; page handlers that refuse without a user; and a
server with no users open to this machine only, never to requests a proxy passes on."""

from __future__ import annotations

import re
import stat
import threading
import time
from types import SimpleNamespace

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient

import app
from guard import (
    ADMIN,
    CLOSED,
    EDITOR,
    EVENT,
    MAX_FORM_BODY,
    PUBLIC,
    READER,
    SCRYPT_THREADS,
    UNLISTED,
    TeamGuard,
    route_requirement,
)
from qa.team import OpenServerError, TeamStore, TeamUser, UserRow

BASE = "http://127.0.0.1:7860"
SAME_ORIGIN = {"Origin": BASE}
EVIL = "https://evil.example"
LOOPBACK_CLIENT = ("127.0.0.1", 50000)  # TestClient's own client address, "testclient", is no address at all
XSS = "<img src=x onerror=alert(1)>"
STREAMS = re.compile(r"queue/data|heartbeat|/stream/|/call/")  # event streams: they wait for events that never come
PASSWORDS = {"ann": "admin password", "ed": "editor password", "rob": "reader password"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app over an empty corpus (no index: every refusal happens before anything is answered), with an
    admin, an editor and a reader, and a token for each."""
    root = tmp_path_factory.mktemp("served")
    (root / "corpus").mkdir()
    team = TeamStore.for_index(root / "index")
    tokens = {}
    for name, role in (("ann", "admin"), ("ed", "editor"), ("rob", "reader")):
        team.add_user(name, role, PASSWORDS[name])
        tokens[name] = team.add_token(name)[1]
    served_app = app.build_app(index_dir=root / "index", corpus_dir=root / "corpus", open_to="local")
    return served_app, team, tokens


def _settings(served_app):
    return next(m.kwargs["settings"] for m in served_app.user_middleware if m.cls is TeamGuard)


def served_routes(served_app) -> list[tuple[str, str]]:
    """(method, path with every parameter filled in) of every route the app serves, mounted ones included."""
    found: list[tuple[str, str]] = []

    def walk(routes, prefix=""):
        for route in routes:
            included = getattr(route, "original_router", None)  # FastAPI's include_router
            if included is not None:
                walk(included.routes, prefix + route.include_context.prefix)
                continue
            if getattr(route, "routes", None) is not None and not getattr(route, "methods", None):  # a Mount
                walk(route.routes, prefix + route.path)
                continue
            path = re.sub(r"\{[^}]+\}", "x", prefix + route.path)
            found.extend((method, path) for method in sorted(route.methods))

    walk(served_app.routes)
    return sorted(set(found))


def _form_token(page: str) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def _request(client, method, path, **kwargs):
    return client.request(method, path, follow_redirects=False, **kwargs)


def _bearer(token):
    return {"Authorization": f"Bearer {token}", **SAME_ORIGIN}


def _signed_in(served_app, name) -> TestClient:
    client = TestClient(served_app, base_url=BASE)
    page = client.get("/signin")
    form_token = _form_token(page.text)
    response = client.post(
        "/signin",
        data={"name": name, "password": PASSWORDS[name], "form_token": form_token, "next": "/"},
        headers=SAME_ORIGIN,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


def test_every_route_is_placed_in_the_role_map(served):
    routes = served_routes(served[0])
    assert (
        len(routes) > 60 and ("POST", "/gradio_api/upload") in routes and ("POST", "/gradio_api/queue/join") in routes
    )
    unplaced = [(m, p) for m, p in routes if route_requirement(m, p) == UNLISTED]
    assert unplaced == []


def test_without_a_session_or_token_every_route_refuses(served):
    served_app, _, _ = served
    client = TestClient(served_app, base_url=BASE)
    for method, path in served_routes(served_app):
        if route_requirement(method, path) == PUBLIC:
            continue
        response = _request(client, method, path, headers=SAME_ORIGIN)
        if response.status_code == 303:
            assert response.headers["location"].startswith("/signin?next="), (method, path)
        else:
            assert response.status_code == 401, (method, path, response.status_code, response.text[:200])
    response = client.get("/", headers={"Accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/signin?next=%2F"
    assert client.get("/signin").status_code == 200


def test_a_reader_is_refused_every_editing_and_admin_route(served):
    served_app, _, tokens = served
    # Gradio's own answer to a made-up stream id is an error inside the stream: the status is what matters.
    by_token = TestClient(served_app, base_url=BASE, raise_server_exceptions=False)
    by_session = _signed_in(served_app, "rob")
    checked = 0
    for method, path in served_routes(served_app):
        requirement = route_requirement(method, path)
        if requirement in (EDITOR, ADMIN, CLOSED):
            assert _request(by_token, method, path, headers=_bearer(tokens["rob"])).status_code == 403, (method, path)
            assert _request(by_session, method, path, headers=SAME_ORIGIN).status_code == 403, (method, path)
            checked += 1
        elif requirement not in (PUBLIC, EVENT) and not STREAMS.search(path):
            # A reader's route: let through (Gradio itself may refuse a made-up path).
            response = _request(by_token, method, path, headers=_bearer(tokens["rob"]))
            assert response.status_code != 401 and "Refused" not in response.text[:100], (method, path)
    assert checked >= 10
    upload = by_session.post("/gradio_api/upload", files={"files": ("a.txt", b"x")}, headers=SAME_ORIGIN)
    assert upload.status_code == 403 and "editor" in upload.json()["error"]
    assert by_session.get("/admin/audit").status_code == 403
    assert by_session.get("/config").status_code == 200


def _event_calls(settings, role):
    """Every way to call each event that needs ``role``: by fn_index through the queue and the direct
    route, and by api_name through each named route."""
    calls = []
    for index, needed in settings.events.by_index.items():
        if needed == role:
            body = {"data": [], "fn_index": index, "session_hash": "probe", "trigger_id": None}
            calls += [("/gradio_api/queue/join", body), ("/gradio_api/run/predict", body)]
    for name, needed in settings.events.by_name.items():
        if needed == role:
            calls += [(f"/gradio_api/{route}/{name}", {"data": []}) for route in ("call", "call/v2", "run", "api")]
    return calls


def test_a_reader_calling_editing_or_admin_events_by_hand_gets_403(served):
    served_app, _, tokens = served
    settings = _settings(served_app)
    editing, admin = _event_calls(settings, EDITOR), _event_calls(settings, ADMIN)
    assert len(editing) >= 8 and len(admin) >= 8  # upload, remove; the audit trail and managing users
    reader, editor = TestClient(served_app, base_url=BASE), TestClient(served_app, base_url=BASE)
    for path, body in editing + admin:
        assert reader.post(path, json=body, headers=_bearer(tokens["rob"])).status_code == 403, (path, body)
    for path, body in admin:
        assert editor.post(path, json=body, headers=_bearer(tokens["ed"])).status_code == 403, (path, body)
    # A named event's route cannot be pointed at another event through the body's fn_index.
    upload_index = next(i for i, r in settings.events.by_index.items() if r == EDITOR)
    smuggled = {"data": [], "fn_index": upload_index, "session_hash": "probe"}
    assert reader.post("/gradio_api/run/ask", json=smuggled, headers=_bearer(tokens["rob"])).status_code == 403
    # The roles above are let through: the guard refuses by role, not everything.
    admin_index = next(i for i, r in settings.events.by_index.items() if r == ADMIN)
    joined = reader.post(
        "/gradio_api/queue/join",
        json={"data": [], "fn_index": admin_index, "session_hash": "probe", "trigger_id": None},
        headers=_bearer(tokens["ann"]),
    )
    assert joined.status_code not in (401, 403)
    stored = editor.post("/gradio_api/upload", files={"files": ("a.txt", b"x")}, headers=_bearer(tokens["ed"]))
    assert stored.status_code == 200


def test_wrong_malformed_and_revoked_tokens_are_refused(served):
    served_app, team, _ = served
    client = TestClient(served_app, base_url=BASE)
    _, token = team.add_token("rob")
    assert client.get("/config", headers=_bearer(token)).status_code == 200
    for header in (f"Bearer {token}x", "Bearer ", "Basic cm9iOnJlYWRlcg==", "Bearer qa_" + "a" * 43):
        response = client.get("/config", headers={"Authorization": header})
        assert response.status_code == 401 and "www-authenticate" in response.headers, header
    team.revoke_token(token)
    assert client.get("/config", headers=_bearer(token)).status_code == 401
    assert client.get("/api/answer", params={"q": "How many?"}, headers=_bearer(token)).status_code == 401


def test_the_json_route_answers_a_token(served, monkeypatch):
    served_app, _, tokens = served
    monkeypatch.setattr(app.qa, "answer", lambda question, **kwargs: app.qa.Answer(text="5,000", score=0.9))
    client = TestClient(served_app, base_url=BASE)
    response = client.get("/api/answer", params={"q": "How many?"}, headers=_bearer(tokens["rob"]))
    assert response.status_code == 200 and response.json()["text"] == "5,000"


def test_the_team_file_is_private_and_holds_no_secret_in_clear(served):
    served_app, team, tokens = served
    client = _signed_in(served_app, "rob")
    session = client.cookies.get("qa_session")
    assert session and stat.S_IMODE(team.path.stat().st_mode) == 0o600
    raw = team.path.read_bytes()
    for secret in [session, *PASSWORDS.values(), *tokens.values()]:
        assert secret.encode() not in raw


def test_session_cookie_is_httponly_strict_and_secure_behind_https(served):
    served_app, _, _ = served
    plain = _signed_in(served_app, "rob")
    assert plain.cookies.get("qa_session")
    client = TestClient(served_app, base_url="https://127.0.0.1")
    form_token = _form_token(client.get("/signin").text)
    response = client.post(
        "/signin",
        data={"name": "rob", "password": PASSWORDS["rob"], "form_token": form_token},
        headers={"Origin": "https://127.0.0.1"},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("qa_session=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" in cookie


def test_sign_out_ends_the_session(served):
    served_app, _, _ = served
    client = _signed_in(served_app, "rob")
    assert client.get("/config").status_code == 200
    secret = client.cookies.get("qa_session")
    assert secret
    response = client.post("/signout", headers=SAME_ORIGIN, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/signin"
    client.cookies.set("qa_session", secret)  # even replayed, the ended session is refused
    assert client.get("/config").status_code == 401


def test_failed_sign_ins_slow_down(served):
    served_app, _, _ = served
    client = TestClient(served_app, base_url=BASE)

    def sign_in(password):
        form_token = _form_token(client.get("/signin").text)
        return client.post(
            "/signin",
            data={"name": "ed", "password": password, "form_token": form_token},
            headers=SAME_ORIGIN,
            follow_redirects=False,
        )

    wrong = sign_in("not the password")
    assert wrong.status_code == 401 and "Try again in 1 second" in wrong.text
    too_soon = sign_in(PASSWORDS["ed"])  # even the right password is not checked while the name must wait
    assert too_soon.status_code == 429 and too_soon.headers["retry-after"] == "1"
    time.sleep(1.1)
    wrong = sign_in("still not it")
    assert wrong.status_code == 401 and "Try again in 2 seconds" in wrong.text
    assert sign_in(PASSWORDS["ed"]).status_code == 429
    time.sleep(2.1)
    assert sign_in(PASSWORDS["ed"]).status_code == 303  # and a success clears the count
    assert "qa_session" in client.cookies


def _post_signins_together(served_app, forms, addresses):
    """POST each sign-in ``form`` to ``served_app`` at the same moment, from the matching client address,
    in one event loop as a server runs them: the response statuses, in order."""
    signin_cookie = {"Cookie": "qa_signin=chosen", **SAME_ORIGIN}  # the form value is the cookie's, whatever it is

    async def post_all():
        clients = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=served_app, client=(address, 4000)), base_url=BASE)
            for address in addresses
        ]
        try:
            responses = await _gather(
                [
                    client.post("/signin", data={**form, "form_token": "chosen"}, headers=signin_cookie)
                    for client, form in zip(clients, forms, strict=True)
                ]
            )
        finally:
            for client in clients:
                await client.aclose()
        return [response.status_code for response in responses]

    return anyio.run(post_all)


async def _gather(awaitables):
    """Await all of ``awaitables`` at once: their results, in order."""
    results = [None] * len(awaitables)

    async def run(index, awaitable):
        results[index] = await awaitable

    async with anyio.create_task_group() as group:
        for index, awaitable in enumerate(awaitables):
            group.start_soon(run, index, awaitable)
    return results


def test_wrong_passwords_sent_together_are_slowed_like_one_after_another(served):
    served_app, _, _ = served
    throttle = _settings(served_app).throttle
    address = "192.0.2.16"
    try:
        statuses = _post_signins_together(
            served_app, [{"name": "ed", "password": f"guess {n}"} for n in range(16)], [address] * 16
        )
        # One guess reaches the password check; the other 15 wait their turn, as if sent one by one.
        assert sorted(statuses) == [401] + [429] * 15, statuses
    finally:
        throttle.succeeded("ed", address)


def test_password_checks_run_two_at_a_time_outside_the_shared_threads(served, monkeypatch):
    served_app, _, _ = served
    settings = _settings(served_app)
    running, most, shared = [0], [0], []
    lock = threading.Lock()

    def slow_check(name, password):
        # The threads every other request needs (the guard's own look-ups among them): how many are taken.
        shared.append(
            anyio.from_thread.run_sync(lambda: anyio.to_thread.current_default_thread_limiter().borrowed_tokens)
        )
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.1)
        with lock:
            running[0] -= 1
        return None

    monkeypatch.setattr(settings.team, "authenticate", slow_check)
    addresses = [f"198.51.100.{n}" for n in range(12)]  # different names from different addresses: no waiting
    forms = [{"name": f"stranger{n}", "password": "a guess"} for n in range(12)]
    try:
        assert _post_signins_together(served_app, forms, addresses) == [401] * 12
    finally:
        for form, address in zip(forms, addresses, strict=True):
            settings.throttle.succeeded(form["name"], address)
    assert most[0] == SCRYPT_THREADS == 2 and len(shared) == 12 and set(shared) == {0}


def test_forged_cross_site_changes_are_refused(served):
    served_app, _, _ = served
    settings = _settings(served_app)
    editor = _signed_in(served_app, "ed")  # a signed-in editor visits another site, which posts to this one
    remove_index = [i for i, r in settings.events.by_index.items() if r == EDITOR][-1]
    forged_remove = {"data": ["missiles.txt"], "fn_index": remove_index, "session_hash": "x", "trigger_id": None}
    for headers in (
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Referer": EVIL + "/page"},
        {"Sec-Fetch-Site": "cross-site", "Origin": BASE},
        {"Origin": "http://127.0.0.1:7861"},  # another port is another origin
    ):
        upload = editor.post("/gradio_api/upload", files={"files": ("a.txt", b"x")}, headers=headers)
        assert upload.status_code == 403 and "another site" in upload.json()["error"], headers
        assert editor.post("/gradio_api/queue/join", json=forged_remove, headers=headers).status_code == 403
        assert editor.post("/signout", headers=headers, follow_redirects=False).status_code == 403
    assert editor.post("/gradio_api/upload", files={"files": ("a.txt", b"x")}, headers=SAME_ORIGIN).status_code == 200
    # The sign-in form carries a value its cookie must match: a form posted from elsewhere is refused.
    stranger = TestClient(served_app, base_url=BASE)
    response = stranger.post(
        "/signin", data={"name": "ed", "password": PASSWORDS["ed"], "form_token": "guess"}, follow_redirects=False
    )
    assert response.status_code == 400 and "qa_session" not in response.headers.get("set-cookie", "")


def test_user_supplied_text_is_shown_escaped(served, tmp_path):
    served_app, team, _ = served
    client = TestClient(served_app, base_url=BASE)
    page = client.get("/signin", params={"next": '/"><script>alert(1)</script>'}).text
    assert "<script>alert" not in page and 'value="/&quot;&gt;&lt;script&gt;' in page
    for elsewhere in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        assert 'name="next" value="/"' in client.get("/signin", params={"next": elsewhere}).text  # never off-site
    form_token = _form_token(page)
    refused = client.post("/signin", data={"name": XSS, "password": "x", "form_token": form_token}, headers=SAME_ORIGIN)
    assert XSS not in refused.text and "&lt;img src=x onerror=alert(1)&gt;" in refused.text
    admin = TeamUser("ann", "admin")
    message = app.manage_user("add", XSS, "reader", "a password", "a password", actor=admin, team=team)
    assert "<img" not in message and "&lt;img" in message
    team.record(user=XSS, via="page", action="add", target=f"{XSS}.txt", ok=False, outcome=f"refused: {XSS}")
    for html in (
        app.render_audit(team.audit()),
        app.render_users([UserRow(XSS, "reader", "2026-01-01T00:00:00Z", None, 0)]),
        app.render_who(TeamUser(XSS, "reader")),
        _signed_in(served_app, "ann").get("/admin/audit").text,
    ):
        assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    answer = {
        "text": None,
        "question": XSS,
        "citations": [],
        "passages": [{"doc_id": "x.txt", "text": f"They wrote {XSS} on the wall."}],
    }
    shown = app.give_feedback(
        "answer_is", answer, XSS, user=TeamUser("rob", "reader"), team=TeamStore(tmp_path / "t.sqlite")
    )
    assert "qa-feedback-done" in shown and "<img" not in shown and "&lt;img" in shown


def test_with_no_users_the_server_is_open_to_this_machine_only(tmp_path):
    (tmp_path / "corpus").mkdir()
    open_app = app.build_app(index_dir=tmp_path / "index", corpus_dir=tmp_path / "corpus")
    local = TestClient(open_app, base_url=BASE, client=LOOPBACK_CLIENT)
    assert local.get("/config").status_code == 200
    assert local.post("/gradio_api/upload", files={"files": ("a.txt", b"x")}, headers=SAME_ORIGIN).status_code == 200
    # A page elsewhere reaching the port through a name it rebound to 127.0.0.1 is not this machine.
    rebound = TestClient(open_app, base_url="http://attacker.example:7860", client=LOOPBACK_CLIENT)
    assert rebound.get("/config").status_code == 401
    assert (
        local.post("/gradio_api/upload", files={"files": ("a.txt", b"x")}, headers={"Origin": EVIL}).status_code == 403
    )
    # The first user closes it at once, without a restart.
    TeamStore.for_index(tmp_path / "index").add_user("ann", "admin", PASSWORDS["ann"])
    assert local.get("/config").status_code == 401


def test_an_open_server_does_not_take_a_proxy_s_requests_for_this_machine_s(tmp_path):
    (tmp_path / "corpus").mkdir()
    open_app = app.build_app(index_dir=tmp_path / "index", corpus_dir=tmp_path / "corpus")
    assert TestClient(open_app, base_url=BASE, client=LOOPBACK_CLIENT).get("/config").status_code == 200
    # Behind nginx as documented, uvicorn puts the real client's address in place of the proxy's; the
    # Host header is the client's to choose.
    spoofed = TestClient(open_app, base_url="http://localhost", client=("203.0.113.5", 50000))
    assert spoofed.get("/config").status_code == 401
    upload = spoofed.post(
        "/gradio_api/upload", files={"files": ("a.txt", b"x")}, headers={"Origin": "http://localhost"}
    )
    assert upload.status_code == 401
    # A proxy that passes requests on from the same machine says so in a header: not this machine's request.
    through_proxy = TestClient(open_app, base_url="http://localhost", client=LOOPBACK_CLIENT)
    for header in ({"X-Forwarded-For": "203.0.113.5"}, {"Forwarded": "for=203.0.113.5"}, {"X-Real-IP": "203.0.113.5"}):
        assert through_proxy.get("/config", headers=header).status_code == 401, header
    assert TestClient(open_app, base_url=BASE).get("/config").status_code == 401  # no address: not this machine


def _post_form_asgi(served_app, headers, receive):
    """POST /signin straight to the ASGI app with ``headers`` and a body from ``receive``: the status."""
    sent = []

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/signin",
        "raw_path": b"/signin",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:7860"), (b"content-type", b"application/x-www-form-urlencoded"), *headers],
        "client": ("192.0.2.30", 4000),
        "server": ("127.0.0.1", 7860),
    }
    anyio.run(served_app, scope, receive, send)
    return sent[0]["status"]


def test_an_oversized_sign_in_form_is_refused_before_it_is_read(served):
    served_app, _, _ = served
    chunk = b"name=" + b"x" * 8000
    read = []

    async def endless_body():  # 10 MB, sent in chunks, with no Content-Length
        read.append(len(chunk))
        return {"type": "http.request", "body": chunk, "more_body": sum(read) < 10_000_000}

    assert _post_form_asgi(served_app, [(b"transfer-encoding", b"chunked")], endless_body) == 413
    assert sum(read) <= MAX_FORM_BODY + len(chunk)  # it stopped reading at the limit
    read.clear()
    assert _post_form_asgi(served_app, [(b"content-length", b"1000000000")], endless_body) == 413
    assert read == []  # a declared size over the limit is refused before anything is read


def test_gradio_fetches_no_url_for_anyone(served):
    served_app, _, tokens = served
    for url in ("https://example.org/a.png", "http://10.0.0.1/", "HTTP://example.org", "ftp://example.org/x"):
        assert route_requirement("GET", f"/gradio_api/file={url}") == CLOSED, url
        response = _request(
            TestClient(served_app, base_url=BASE), "GET", f"/gradio_api/file={url}", headers=_bearer(tokens["ann"])
        )
        assert response.status_code == 403 and "not served" in response.json()["error"], url
    assert route_requirement("GET", "/gradio_api/file=/tmp/gradio/abc/a.png") == READER  # files it holds: readers'


def test_page_handlers_refuse_a_request_without_a_user_once_there_are_users(served, tmp_path):
    _, team, _ = served
    nobody = SimpleNamespace()  # a request no guard stood in front of
    assert app.page_user(nobody, team) is None
    assert app.page_user(nobody, TeamStore(tmp_path / "empty.sqlite")) == TeamUser("anonymous", ADMIN, signed_in=False)
    rob = SimpleNamespace(state=SimpleNamespace(qa_user=TeamUser("rob", "reader")))
    assert app.page_user(rob, team) == TeamUser("rob", "reader")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    page = app.build_page(index_dir=tmp_path / "index", corpus_dir=corpus, team=team)
    handlers = {f.fn.__name__: f.fn for f in page.fns.values() if f.fn is not None}
    article = tmp_path / "dam.txt"
    article.write_text("Dam repairs begin\n\nEngineers began grouting work at the Mosul dam.", encoding="utf-8")
    assert "Sign in first" in handlers["on_upload"]([str(article)], nobody)
    assert list(corpus.iterdir()) == []
    assert "Sign in first" in handlers["on_audit"](nobody)
    assert "Sign in first" in handlers["on_user"]("eve", "admin", "a password", "a password", nobody)[0]
    assert team.user("eve") is None
    who, editing, _, audit, users_tab, users = handlers["on_load"](nobody)
    assert who == audit == users == "" and not editing["visible"] and not users_tab["visible"]


def test_no_other_site_may_read_answers_with_a_visitor_s_credentials(served):
    served_app, _, tokens = served
    client = TestClient(served_app, base_url="https://qa.example.org")
    response = client.get("/config", headers={"Origin": EVIL, "Authorization": f"Bearer {tokens['rob']}"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers


def test_serving_beyond_this_machine_needs_users_or_no_auth(tmp_path, monkeypatch, caplog, capsys):
    team = TeamStore.for_index(tmp_path / "index")
    assert app.open_to("127.0.0.1", team) == app.open_to("localhost", team) == app.open_to("::1", team) == "local"
    for host in ("0.0.0.0", "::", "192.168.1.20"):
        with pytest.raises(OpenServerError, match="--no-auth"):
            app.open_to(host, team)
    assert app.open_to("0.0.0.0", team, no_auth=True) == "anyone" and "without sign-in" in caplog.text
    team.add_user("ann", "admin", PASSWORDS["ann"])
    assert app.open_to("0.0.0.0", team) == "nobody"

    def never(**kwargs):
        raise AssertionError("the models were loaded before the refusal")

    monkeypatch.setattr(app.qa, "get_answerer", never)
    import cli

    other = tmp_path / "other"
    assert cli.main(["serve", "--host", "0.0.0.0", "--index", str(other), "--corpus", str(tmp_path)]) == 2
    assert "Refusing to serve on 0.0.0.0 with no users" in capsys.readouterr().err
