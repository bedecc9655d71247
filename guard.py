"""The sign-in layer of the served app: who is asking (a session cookie or an API token), whether their role
may do what they ask, and the sign-in and sign-out pages.

``TeamGuard`` is an ASGI middleware in front of every route, Gradio's included. Each route is mapped to the
role it needs (``route_requirement``); Gradio's event routes (``/gradio_api/queue/join``, ``/run/...``,
``/call/...``) are mapped through the event they name (its ``fn_index`` or ``api_name``), so a reader who
calls an editing event by hand gets 403 whatever the page shows. Cross-site requests that would change
something are refused, and with no users the server answers only as it always did: to this machine.
"""

from __future__ import annotations

import html
import json
import math
import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import Request

from qa.team import ADMIN, EDITOR, READER, SignInThrottle, TeamStore, TeamUser, role_rank

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PUBLIC = "public"  # anyone: the sign-in and sign-out pages
EVENT = "event"  # a Gradio event: the role its handler needs
CLOSED = "closed"  # Gradio routes this app does not use (its own log-in, remote history, code editing)
UNLISTED = "unlisted"  # a route no rule names: treated as admin-only, and tests/test_team_security.py fails

USER_KEY = "qa_user"  # where the guard leaves the TeamUser in the request's scope["state"]
SESSION_COOKIE = "qa_session"
SIGNIN_COOKIE = "qa_signin"  # the sign-in form's anti-forgery value, also sent in the form
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_EVENT_BODY = 4_000_000  # bytes of an event call read to find which event it is
MAX_FORM_BODY = 16_000
SCRYPT_THREADS = 2  # password checks at once (128 MiB each), apart from the threads every other request uses
FORWARDED_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")  # a proxy passed the request on
GET = frozenset({"GET", "HEAD"})
POST = frozenset({"POST"})
ANY: frozenset[str] = frozenset()

_API = "/gradio_api"
# (path pattern, methods (empty: any), requirement), first match wins. Every route of the served app must be
# matched by one of these: tests/test_team_security.py enumerates app.routes, so a route a Gradio upgrade
# adds fails the tests until it is placed here.
ROUTE_RULES: tuple[tuple[re.Pattern[str], frozenset[str], str], ...] = tuple(
    (re.compile(pattern), methods, requirement)
    for pattern, methods, requirement in (
        (r"/signin|/signout", ANY, PUBLIC),
        # The page, its assets and configuration, and the read-only routes of this app.
        (r"/|/doc|/api/answer|/config/?|/favicon\.ico|/theme\.css|/robots\.txt|/manifest\.json", GET, READER),
        (r"/(static|assets|svelte)/.*|/pwa_icon(/[^/]+)?|/openapi\.json", GET, READER),
        (rf"{_API}/(deep_link|user/?|login_check/?|token/?|app_id/?|info/?|openapi\.json|theme\.css)", GET, READER),
        (rf"{_API}/(startup-events|queue/data|queue/status|heartbeat/[^/]+|custom_component/.+)", GET, READER),
        # Gradio fetches a URL given as the "file" (any scheme): an offline server fetches nothing for anyone.
        (rf"{_API}/file=[A-Za-z][A-Za-z0-9+.-]*:.*", ANY, CLOSED),
        (rf"{_API}/(file=.*|file/.*|stream/.+|call/(v2/)?[^/]+/[^/]+)", GET, READER),
        # Calls of events: the role depends on the event.
        (rf"{_API}/(queue/join|(run|api|call|call/v2)/[^/]+/?)", POST, EVENT),
        (rf"{_API}/(cancel|reset/?|stream/[^/]+(/close)?)", POST, READER),
        # Storing files on the server is for editors; the upload route is Gradio's own, before any event.
        (rf"{_API}/(upload|upload_progress)", ANY, EDITOR),
        (r"/admin/.*|/monitoring(/.*)?", GET, ADMIN),
        (rf"{_API}/component_server/?", POST, ADMIN),  # no component of this page has server functions
        (rf"{_API}/(vibe-edit|undo-vibe-edit|vibe-code|vibe-starter-queries)/?|{_API}/dev/reload", ANY, CLOSED),
        (rf"{_API}/(runs/?|run-history/.*|proxy=.*|process_recording)|/login/?|/logout", ANY, CLOSED),
    )
)
_EVENT_PATH = re.compile(rf"{_API}/(?:run|api|call|call/v2)/([^/]+)/?")


def route_requirement(method: str, path: str) -> str:
    """What a request for ``path`` with ``method`` needs: a role (``READER``, ``EDITOR``, ``ADMIN``),
    ``EVENT`` (the called event's role), ``PUBLIC``, ``CLOSED`` or ``UNLISTED``."""
    for pattern, methods, requirement in ROUTE_RULES:
        if (not methods or method in methods) and pattern.fullmatch(path):
            return requirement
    return UNLISTED


@dataclass(frozen=True)
class EventRoles:
    """The role each Gradio event needs, by ``fn_index`` and by ``api_name``; events not listed are
    readers'. ``needed(path, body)`` reads which event a call names."""

    by_index: dict[int, str] = field(default_factory=dict)
    by_name: dict[str, str] = field(default_factory=dict)

    def needed(self, path: str, body: bytes) -> str:
        """The role a call of an event needs: the highest of the roles of the event its ``fn_index`` names
        and the event its path names; an admin's for a call that names no event or cannot be read."""
        roles = []
        named = _EVENT_PATH.fullmatch(path)
        if named:
            roles.append(self.by_name.get(named.group(1), READER))
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return ADMIN
        index = payload.get("fn_index") if isinstance(payload, dict) else None
        if isinstance(index, int) and not isinstance(index, bool):
            roles.append(self.by_index.get(index, ADMIN))
        elif index is not None or not named:
            return ADMIN
        return max(roles, key=role_rank)


@dataclass(frozen=True)
class GuardSettings:
    """How the guard treats requests. ``open_to``: with no users, serve without sign-in to requests for
    this machine ("local": Host must name a loopback address, so a web page cannot reach the server through
    a rebound DNS name, and the request must come from a loopback address with no proxy's forwarding
    header), to anyone ("anyone", ``--no-auth``), or to no one ("nobody"). ``secure_cookies``:
    mark cookies Secure even when the request did not arrive over HTTPS (the server sits behind an HTTPS
    proxy that does not say so)."""

    team: TeamStore
    events: EventRoles = field(default_factory=EventRoles)
    open_to: str = "local"
    secure_cookies: bool = False
    throttle: SignInThrottle = field(default_factory=SignInThrottle)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _netloc(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is None or (parts.scheme, port) in (("http", 80), ("https", 443)):
        return host
    return f"{host}:{port}"


def _host_header(headers: dict[str, str]) -> str:
    host = headers.get("host", "").lower()
    for default in (":80", ":443"):
        if host.endswith(default):
            return host[: -len(default)]
    return host


def is_cross_site(headers: dict[str, str]) -> bool:
    """True when a request comes from another site's page: its ``Sec-Fetch-Site`` says so, or its
    ``Origin`` (else its ``Referer``) names another host than the ``Host`` it was sent to. A request with
    none of them comes from a program, not a page (browsers send ``Origin`` with every cross-site POST)."""
    if headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        return True
    origin = headers.get("origin")
    if origin is not None:
        return origin == "null" or _netloc(origin) != _host_header(headers)
    referer = headers.get("referer", "")
    return bool(referer) and _netloc(referer) != _host_header(headers)


def is_local_host(host_header: str) -> bool:
    """True for a ``Host`` naming this machine: localhost or a loopback address (with any port)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.split(":")[0]
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def is_direct_local_request(scope: Scope, headers: dict[str, str]) -> bool:
    """True for a request from a program on this machine itself: a loopback client address (uvicorn puts
    the real client's there when a local proxy sends ``X-Forwarded-For``) and no header by which a proxy
    says it passed the request on (``X-Forwarded-For``, ``Forwarded``, ``X-Real-IP``)."""
    if any(name in headers for name in FORWARDED_HEADERS):
        return False
    try:
        return ip_address(_client(scope)).is_loopback
    except ValueError:
        return False


def request_user(request: Any) -> TeamUser | None:
    """The user the guard let through for ``request`` (a Starlette request or a ``gr.Request``), or None
    when no guard stands in front of the page."""
    state = getattr(request, "state", None) if request is not None else None
    user = getattr(state, USER_KEY, None) if state is not None else None
    return user if isinstance(user, TeamUser) else None


def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site (never another site's address), else "/"."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _cookies(headers: dict[str, str]) -> dict[str, str]:
    from starlette.requests import cookie_parser

    return cookie_parser(headers.get("cookie", ""))


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def is_https(scope: Scope, settings: GuardSettings) -> bool:
    """True when cookies should be Secure: the request came over HTTPS (uvicorn takes a local proxy's
    ``X-Forwarded-Proto``) or the server was told it is behind HTTPS."""
    return settings.secure_cookies or scope.get("scheme") in ("https", "wss")


async def _send_response(send: Send, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


SECURITY_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


class TeamGuard:
    """ASGI middleware: authenticate every request (a ``qa_session`` cookie or ``Authorization: Bearer``
    token), answer 401 (or, for a page, a redirect to ``/signin``) without one once the team has users,
    403 when the user's role is below what the route or the event needs, 403 for cross-site changes, and
    leave the ``TeamUser`` in ``scope["state"]["qa_user"]`` for the handlers (``request_user``)."""

    def __init__(self, app: Callable[..., Awaitable[None]], *, settings: GuardSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        from anyio import to_thread

        headers = _headers(scope)
        method = scope.get("method", "GET")
        path = scope.get("path", "/")

        async def refuse(status: int, message: str, extra: list[tuple[str, str]] | None = None) -> None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            body = json.dumps({"error": message}).encode()
            await _send_response(send, status, body, [("content-type", "application/json"), *(extra or [])])

        if method not in SAFE_METHODS and is_cross_site(headers):
            await refuse(403, "Refused: a request from another site cannot change anything here.")
            return
        requirement = route_requirement(method, path)
        if requirement == PUBLIC:
            await self.app(scope, receive, self._with_headers(send))
            return
        user, bad_token = await to_thread.run_sync(self._identify, headers)
        if bad_token:
            await refuse(401, "Unknown or revoked token.", [("www-authenticate", 'Bearer error="invalid_token"')])
            return
        if user is None:
            user = await to_thread.run_sync(self._open_user, scope, headers)
        if user is None:
            page = path in ("/", "/doc") or "text/html" in headers.get("accept", "")
            if method in GET and scope["type"] == "http" and page:
                target = path + (f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else "")
                location = f"/signin?next={quote(target, safe='')}"
                await _send_response(send, 303, b"", [("location", location), ("cache-control", "no-store")])
                return
            await refuse(
                401,
                "Sign in first (/signin), or send an API token: Authorization: Bearer <token from qa tokens add>.",
                [("www-authenticate", "Bearer")],
            )
            return
        if requirement == CLOSED:
            await refuse(403, "This route is not served here.")
            return
        if requirement == EVENT:
            body = await _read_body(receive, MAX_EVENT_BODY)
            if body is None:
                await refuse(413, "The request is too large.")
                return
            needed = self.settings.events.needed(path, body)
            receive = _replay(body, receive)
        else:
            needed = ADMIN if requirement == UNLISTED else requirement
        if not user.may(needed):
            await refuse(403, f"Refused: this needs an {needed}'s role; {user.name} is a {user.role}.")
            return
        scope = dict(scope)
        scope["state"] = {**scope.get("state", {}), USER_KEY: user}
        await self.app(scope, receive, self._with_headers(send))

    def _identify(self, headers: dict[str, str]) -> tuple[TeamUser | None, bool]:
        """(the user of the request's token or session, whether a token was sent and refused)."""
        team = self.settings.team
        authorization = headers.get("authorization", "")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None, True
            user = team.token_user(token.strip())
            return user, user is None
        secret = _cookies(headers).get(SESSION_COOKIE)
        return (team.session_user(secret) if secret else None), False

    def _open_user(self, scope: Scope, headers: dict[str, str]) -> TeamUser | None:
        """With no users, whoever reaches an open server (as an admin: the page works as it always did);
        None when sign-in is needed. "local" means a request from this machine, for this machine: a proxy
        on this machine passing on others' requests does not make them local."""
        open_to = self.settings.open_to
        if open_to == "nobody" or self.settings.team.has_users():
            return None
        if open_to == "local" and not (
            is_local_host(headers.get("host", "")) and is_direct_local_request(scope, headers)
        ):
            return None
        return TeamUser(f"anonymous@{_client(scope)}", ADMIN, signed_in=False)

    def _with_headers(self, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return sending


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None when it is longer than ``limit`` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then waits on the client as usual."""
    sent = False

    async def replaying() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replaying


# The sign-in and sign-out pages ---------------------------------------------------------------------------

_PAGE_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:26em;margin:3em auto;padding:0 1em;line-height:1.5}"
    "label{display:block;margin:.8em 0 .2em}input{width:100%;padding:.4em;font-size:1em;box-sizing:border-box}"
    "button{margin-top:1em;padding:.5em 1.2em;font-size:1em}.qa-error{color:#a00;font-weight:600}"
    ".qa-meta{color:#555}"
)
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
}


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_PAGE_STYLE}</style></head><body>{body}</body></html>"
    )


def signin_page(*, form_token: str, next_path: str, name: str = "", message: str = "", note: str = "") -> str:
    """The sign-in page: a form posting name, password, ``form_token`` and ``next_path`` to ``/signin``,
    with ``message`` (an error) and ``note`` shown above it. Everything shown is escaped."""
    error = f'<p class="qa-error" id="qa-signin-error">{_e(message)}</p>' if message else ""
    remark = f'<p class="qa-meta">{_e(note)}</p>' if note else ""
    return _page(
        "Sign in · Ask the corpus",
        "<h1>Ask the corpus</h1><h2>Sign in</h2>"
        f'{error}{remark}<form method="post" action="/signin" id="qa-signin">'
        f'<input type="hidden" name="form_token" value="{_e(form_token)}">'
        f'<input type="hidden" name="next" value="{_e(next_path)}">'
        f'<label for="name">Name</label><input id="name" name="name" value="{_e(name)}" autocomplete="username" '
        'required autofocus><label for="password">Password</label><input id="password" name="password" '
        'type="password" autocomplete="current-password" required>'
        '<button type="submit" id="qa-signin-go">Sign in</button></form>',
    )


def signout_page() -> str:
    """A page with one button that signs out (a POST, so that no link elsewhere can do it)."""
    return _page(
        "Sign out · Ask the corpus",
        '<h1>Ask the corpus</h1><form method="post" action="/signout"><button type="submit" id="qa-signout-go">'
        'Sign out</button></form><p><a href="/">Back to the page</a></p>',
    )


def add_signin_routes(api: Any, settings: GuardSettings) -> None:
    """Add ``GET``/``POST /signin`` and ``GET``/``POST /signout`` to the FastAPI app ``api``.

    Signing in refuses a form over ``MAX_FORM_BODY`` bytes (``413``, without reading past the limit),
    checks the form's anti-forgery value against its cookie, then the throttle (``429`` with
    ``Retry-After`` while a name or address must wait; otherwise the try is counted as failed before the
    password is checked), then the password, ``SCRYPT_THREADS`` checks at a time; success clears the count,
    starts a session (cookie ``qa_session``: HttpOnly, SameSite=Strict, Secure over HTTPS) and redirects to
    ``next``."""
    from anyio import CapacityLimiter, to_thread
    from fastapi.responses import HTMLResponse, RedirectResponse

    team, throttle = settings.team, settings.throttle
    # Password checks get threads of their own: a flood of sign-ins waits here, not in the pool that every
    # other request (the guard's own look-ups included) needs.
    password_checks = CapacityLimiter(SCRYPT_THREADS)

    def form_response(request: Request, status: int, **fields: str) -> HTMLResponse:
        token = secrets.token_urlsafe(24)
        response = HTMLResponse(signin_page(form_token=token, **fields), status_code=status, headers=PAGE_HEADERS)
        response.set_cookie(
            SIGNIN_COOKIE,
            token,
            max_age=3600,
            httponly=True,
            samesite="strict",
            secure=is_https(request.scope, settings),
            path="/signin",
        )
        return response

    def no_users_note() -> str:
        if settings.open_to == "nobody":
            return "No one can sign in yet: an admin must first be added with qa users add NAME --role admin."
        return "This server has no users yet: it is open to this machine without signing in."

    @api.get("/signin")
    async def signin_form(request: Request, next: str = "/") -> Any:
        secret = request.cookies.get(SESSION_COOKIE) or ""
        signed_in = await to_thread.run_sync(lambda: team.session_user(secret)) if secret else None
        if signed_in is not None:
            return RedirectResponse(safe_next(next), status_code=303)
        note = "" if await to_thread.run_sync(team.has_users) else no_users_note()
        return form_response(request, 200, next_path=safe_next(next), note=note)

    @api.post("/signin")
    async def signin(request: Request) -> Any:
        declared = request.headers.get("content-length", "")
        raw = None
        if not (declared.isdigit() and int(declared) > MAX_FORM_BODY):
            raw = await _read_body(request.receive, MAX_FORM_BODY)
        if raw is None:
            return form_response(request, 413, next_path="/", message="The form is too large.")
        form = {key: values[0] for key, values in parse_qs(raw.decode("utf-8", "replace")).items()}
        name, password = form.get("name", "").strip(), form.get("password", "")
        next_path = safe_next(form.get("next"))
        expected = request.cookies.get(SIGNIN_COOKIE, "")
        given = form.get("form_token", "").encode()
        if not expected or not secrets.compare_digest(expected.encode(), given):
            return form_response(
                request, 400, next_path=next_path, name=name, message="The sign-in form expired: please try again."
            )
        address = request.client.host if request.client else "unknown"
        wait = throttle.begin(name, address)  # from here on, this try counts as failed until it succeeds
        if wait > 0:
            seconds = math.ceil(wait)
            response = form_response(
                request,
                429,
                next_path=next_path,
                name=name,
                message=f"Too many failed sign-ins: wait {seconds} second{'s' if seconds != 1 else ''} and try again.",
            )
            response.headers["Retry-After"] = str(seconds)
            return response
        user = (
            await to_thread.run_sync(team.authenticate, name, password, limiter=password_checks)
            if name and password
            else None
        )
        if user is None:
            delay = math.ceil(throttle.failed(name, address))
            return form_response(
                request,
                401,
                next_path=next_path,
                name=name,
                message=f"Wrong name or password. Try again in {delay} second{'s' if delay != 1 else ''}.",
            )
        throttle.succeeded(name, address)
        old = request.cookies.get(SESSION_COOKIE)
        if old:
            await to_thread.run_sync(team.end_session, old)
        secret = await to_thread.run_sync(lambda: team.start_session(user.name))
        redirect = RedirectResponse(next_path, status_code=303)
        redirect.set_cookie(
            SESSION_COOKIE, secret, httponly=True, samesite="strict", secure=is_https(request.scope, settings)
        )
        redirect.delete_cookie(SIGNIN_COOKIE, path="/signin")
        return redirect

    @api.get("/signout")
    async def signout_form() -> Any:
        return HTMLResponse(signout_page(), headers=PAGE_HEADERS)

    @api.post("/signout")
    async def signout(request: Request) -> Any:
        secret = request.cookies.get(SESSION_COOKIE)
        if secret:
            await to_thread.run_sync(team.end_session, secret)
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(
            SESSION_COOKIE, httponly=True, samesite="strict", secure=is_https(request.scope, settings)
        )
        return response
