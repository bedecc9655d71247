"""The team file: who may use a served bot (users, roles, API tokens, sign-in sessions), what they changed
(the audit trail) and what they said about answers (feedback, exported as gold pairs for ``python -m eval``).

One SQLite file beside the index folder (``team_file``), created with mode 0600; the index is rebuilt and
replaced whole, so nothing of this lives inside it. Passwords are kept only as salted scrypt hashes and
tokens and session ids only as SHA-256 digests of random secrets: the file holds nothing that signs anyone
in. Standard library only; every method opens its own connection, so one ``TeamStore`` serves many threads.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)

READER, EDITOR, ADMIN = "reader", "editor", "admin"
ROLES = (READER, EDITOR, ADMIN)  # each may do what the ones before it may
SESSION_IDLE_SECONDS = 12 * 3600  # a sign-in session ends after 12 hours without a request
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024
TOKEN_PREFIX = "qa_"
# scrypt at N=2^17, r=8, p=1 (OWASP's minimum): 128 MiB and about half a second a hash on one core. The
# parameters are stored with every hash, so hashes made with other ones still verify, and raising them
# later only affects passwords set afterwards. SCRYPT_MAXMEM bounds what any stored hash may ask for: a
# hash needing more is an error (``PasswordHashError``), never a wrong password.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
SCRYPT_MAXMEM = 256 * 1024 * 1024
_NAME = re.compile(r"[^\W_][\w.@-]{0,63}")
_TOUCH_SECONDS = 60  # a session's or token's last use is written at most once a minute

VERDICTS = ("right", "wrong", "not_in_articles", "answer_is")
VERDICT_WORDS = {
    "right": "right",
    "wrong": "wrong",
    "not_in_articles": "not in these articles",
    "answer_is": "the answer is …",
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    role TEXT NOT NULL CHECK (role IN ('reader', 'editor', 'admin')),
    password TEXT NOT NULL,
    created TEXT NOT NULL,
    last_signin TEXT
);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE ON UPDATE CASCADE,
    digest TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    last_used REAL
);
CREATE TABLE IF NOT EXISTS sessions (
    digest TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE ON UPDATE CASCADE,
    created REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    via TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    ok INTEGER NOT NULL,
    outcome TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    verdict TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT,
    citation TEXT,
    span TEXT,
    span_doc TEXT
);
"""


class TeamError(Exception):
    """Base class of the team file's errors; each message says what to do next."""


class InvalidUserError(TeamError, ValueError):
    """A user name, role or password that cannot be used (the message says why)."""


class UserExistsError(TeamError, ValueError):
    """A user of that name exists already."""


class UnknownUserError(TeamError, LookupError):
    """No user of that name."""


class LastAdminError(TeamError, ValueError):
    """The change would leave the team without an admin (or give a new team no admin to begin with)."""


class UnknownTokenError(TeamError, LookupError):
    """No token of that id."""


class FeedbackError(TeamError, ValueError):
    """Feedback that cannot be recorded as given (no answer to mark, a selection found in no passage)."""


class ExportExistsError(TeamError, FileExistsError):
    """The export's output file exists and replacing it was not asked for."""


class TeamFileError(TeamError):
    """The team file cannot be used: damaged, not a database, locked for too long, or unwritable."""


class PasswordHashError(TeamError):
    """A stored password hash whose scrypt parameters this server cannot compute (more memory than
    ``SCRYPT_MAXMEM``, or values scrypt refuses): no password can be checked against it."""


class OpenServerError(TeamError):
    """A server bound beyond this machine with no users, and serving without sign-in was not asked for."""


@dataclass(frozen=True)
class TeamUser:
    """Someone the server knows: a user of the team file, or, with no users, whoever reaches an open server
    (``signed_in`` False)."""

    name: str
    role: str
    signed_in: bool = True

    def may(self, needed: str) -> bool:
        """True when this user's role is ``needed`` or above it."""
        return role_rank(self.role) >= role_rank(needed)


@dataclass(frozen=True)
class UserRow:
    """A user as ``qa users list`` shows it (never the password hash)."""

    name: str
    role: str
    created: str
    last_signin: str | None
    tokens: int


@dataclass(frozen=True)
class TokenRow:
    """An API token as listed: its public id, whose it is, its label and dates (never the token)."""

    token_id: str
    user: str
    label: str
    created: str
    last_used: str | None


@dataclass(frozen=True)
class AuditRow:
    """One change to the corpus or the team: when, who, from where (page or command line), what, the outcome."""

    row_id: int
    at: str
    user: str
    via: str
    action: str
    target: str
    ok: bool
    outcome: str


@dataclass(frozen=True)
class FeedbackRow:
    """A person's verdict on an answer, with the question, the answer given and its citation."""

    row_id: int
    at: str
    user: str
    verdict: str
    question: str
    answer: str | None
    citation: dict[str, Any] | None
    span: str | None
    span_doc: str | None


@dataclass(frozen=True)
class ExportReport:
    """What ``export_gold`` wrote: the number of gold pairs, the bare "wrong" verdicts left for a person to
    review (the latest verdict on their question), and the older verdicts a later one replaced."""

    written: int
    for_review: tuple[FeedbackRow, ...]
    superseded: int


def role_rank(role: str) -> int:
    """0 for a reader, 1 for an editor, 2 for an admin; raises ``InvalidUserError`` for anything else."""
    try:
        return ROLES.index(role)
    except ValueError:
        raise InvalidUserError(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.") from None


def team_file(index_dir: str | Path) -> Path:
    """The team file of the index folder ``index_dir``: ``<name>.team.sqlite`` beside it (not inside it,
    because a rebuilt index replaces the folder whole)."""
    index = Path(index_dir).resolve()
    return index.parent / f"{index.name}.team.sqlite"


def check_name(name: str) -> str:
    """``name`` if it can be a user name (1-64 letters, digits and ``. _ @ -``, beginning with a letter or
    digit); raises ``InvalidUserError`` otherwise."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidUserError(
            f"{name!r} cannot be a user name: use 1 to 64 letters, digits and . _ @ -, beginning with a letter "
            "or a digit."
        )
    return name


def check_password(password: str) -> str:
    """``password`` if it is long enough and not too long; raises ``InvalidUserError`` otherwise."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise InvalidUserError(f"The password is too short: use at least {MIN_PASSWORD_CHARS} characters.")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidUserError(f"The password is too long: use at most {MAX_PASSWORD_CHARS} characters.")
    return password


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password``, with its parameters: ``scrypt$N$r$p$salt$hash`` (base64)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=SCRYPT_MAXMEM, dklen=32
    )
    encode = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` hashes to ``stored`` (as ``hash_password`` wrote it, with any parameters);
    False for another password or a damaged hash. Raises ``PasswordHashError`` (and logs it) when scrypt
    cannot compute a well-formed hash's parameters: that is the server's limit, not a wrong password."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest, validate=True)
        salt_bytes = base64.b64decode(salt, validate=True)
        cost, block, parallel = int(n), int(r), int(p)
    except (ValueError, TypeError):
        return False
    if not expected or cost < 2 or cost & (cost - 1) or block < 1 or parallel < 1:
        return False  # damaged: no hash_password wrote this
    try:
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=salt_bytes,
            n=cost,
            r=block,
            p=parallel,
            maxmem=SCRYPT_MAXMEM,
            dklen=len(expected),
        )
    except (ValueError, MemoryError) as error:
        LOG.error("a stored password hash (scrypt N=%s, r=%s, p=%s) cannot be checked: %s", n, r, p, error)
        raise PasswordHashError(
            f"A stored password hash uses scrypt N={n}, r={r}, p={p}, which this server cannot compute "
            f"({error}): raise SCRYPT_MAXMEM in qa/team.py, or set the password again (qa users passwd)."
        ) from error
    return hmac.compare_digest(actual, expected)


_DUMMY_HASH: list[str] = []


def _existing_user(db: sqlite3.Connection, name: str) -> tuple[TeamUser, bool]:
    """The user called ``name`` (any case) and whether they are the only admin; ``UnknownUserError`` if
    there is none."""
    row = db.execute("SELECT name, role FROM users WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise UnknownUserError(f"No user {name!r} (qa users list shows them).")
    admins = db.execute("SELECT COUNT(*) FROM users WHERE role = 'admin'").fetchone()[0]
    return TeamUser(*row), row[1] == ADMIN and admins == 1


def _dummy_hash() -> str:
    """A hash to check unknown names against, so that they take as long as known ones."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password(secrets.token_urlsafe(16)))
    return _DUMMY_HASH[0]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _now_text(now: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if now is None else now, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def find_span(answer: dict[str, Any], selected: str) -> tuple[str, str]:
    """Where ``selected`` (text a person selected on the page) stands in the passages shown with ``answer``
    (``Answer.to_dict()``: the cited passages of the answer and of its alternatives, then the retrieved
    passages): ``(the span as the passage writes it, its document id)``. White space may differ. Raises
    ``FeedbackError`` for an empty selection or one found in no shown passage."""
    words = selected.split() if isinstance(selected, str) else []
    if not words:
        raise FeedbackError("Select the answer in one of the passages shown first, then press the button.")
    if len(" ".join(words)) > 500:
        raise FeedbackError("The selection is too long for an answer: select only the words that answer it.")
    pattern = re.compile(r"\s+".join(re.escape(word) for word in words))
    passages: list[tuple[str, str]] = []
    for entry in [answer, *answer.get("alternatives", [])]:
        passages += [(c["passage"], c["doc_id"]) for c in entry.get("citations", [])]
    passages += [(p["text"], p["doc_id"]) for p in answer.get("passages", [])]
    for text, doc_id in passages:
        found = pattern.search(text)
        if found:
            return found.group(0), doc_id
    raise FeedbackError(
        "The selection is not in any passage shown with this answer: select the answer's words inside one "
        "of the passages."
    )


class TeamStore:
    """The team file at ``path``: created (mode 0600) by the first change, read as empty while missing."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._created = threading.Lock()
        self._ready = False  # the file's mode checked and its tables made, once per store

    @classmethod
    def for_index(cls, index_dir: str | Path) -> TeamStore:
        """The store of the index folder ``index_dir`` (``team_file``)."""
        return cls(team_file(index_dir))

    # Connections ------------------------------------------------------------------------------------

    def _create(self) -> None:
        with self._created:
            if self.path.exists():
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                # 0600 from the first byte: no moment when others could read it (the umask only narrows it).
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                return

    def _prepare(self, connection: sqlite3.Connection) -> None:
        if self._ready:
            return
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            os.chmod(self.path, 0o600)
            LOG.warning("%s was open to other users (mode %o); it is now 0600", self.path, mode)
        connection.executescript(_SCHEMA)
        self._ready = True

    @contextlib.contextmanager
    def _connect(self, *, write: bool) -> Iterator[sqlite3.Connection | None]:
        """A connection in a transaction (committed on success), or None for a read of a missing file."""
        if not self.path.exists():
            if not write:
                yield None
                return
            self._create()
        try:
            connection = sqlite3.connect(self.path, timeout=15, isolation_level=None)
        except sqlite3.Error as error:
            raise TeamFileError(f"The team file {self.path} cannot be opened ({error}).") from error
        try:
            connection.execute("PRAGMA foreign_keys = ON")
            self._prepare(connection)
            connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as error:
            raise TeamFileError(
                f"The team file {self.path} cannot be used ({error}). If it is damaged, move it aside: the next "
                "change makes a new, empty one."
            ) from error
        finally:
            connection.close()

    # Users ------------------------------------------------------------------------------------------

    def has_users(self) -> bool:
        """True once any user exists (then every request to a server needs a session or a token)."""
        with self._connect(write=False) as db:
            return db is not None and db.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None

    def add_user(self, name: str, role: str, password: str) -> TeamUser:
        """Add a user. Raises ``InvalidUserError`` (name, role, password), ``UserExistsError``, and
        ``LastAdminError`` when the first user would not be an admin (someone must be able to manage the
        others)."""
        check_name(name)
        role_rank(role)
        hashed = hash_password(check_password(password))
        with self._connect(write=True) as db:
            assert db is not None
            if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise UserExistsError(f"A user {name!r} exists already: remove it first, or change its password.")
            if role != ADMIN and db.execute("SELECT 1 FROM users LIMIT 1").fetchone() is None:
                raise LastAdminError(
                    f"The first user must be an admin, so that someone can manage the others: "
                    f"qa users add {name} --role admin"
                )
            db.execute(
                "INSERT INTO users (name, role, password, created) VALUES (?, ?, ?, ?)",
                (name, role, hashed, _now_text()),
            )
        return TeamUser(name, role)

    def users(self) -> list[UserRow]:
        """Every user, by name, with how many tokens each holds."""
        with self._connect(write=False) as db:
            if db is None:
                return []
            rows = db.execute(
                "SELECT u.name, u.role, u.created, u.last_signin, COUNT(t.id) FROM users u "
                "LEFT JOIN tokens t ON t.user = u.name GROUP BY u.name ORDER BY u.name COLLATE NOCASE"
            ).fetchall()
        return [UserRow(*row) for row in rows]

    def user(self, name: str) -> TeamUser | None:
        """The user called ``name`` (any case), or None."""
        with self._connect(write=False) as db:
            row = None if db is None else db.execute("SELECT name, role FROM users WHERE name = ?", (name,)).fetchone()
        return TeamUser(*row) if row else None

    def remove_user(self, name: str) -> None:
        """Remove a user with their tokens and sessions. Raises ``UnknownUserError``, and ``LastAdminError``
        for the last admin while other users remain."""
        with self._connect(write=True) as db:
            assert db is not None
            user, last_admin = _existing_user(db, name)
            if last_admin and db.execute("SELECT 1 FROM users WHERE name != ?", (name,)).fetchone():
                raise LastAdminError(f"{user.name!r} is the last admin: make another admin first.")
            db.execute("DELETE FROM users WHERE name = ?", (name,))

    def set_password(self, name: str, password: str) -> None:
        """Change a user's password; their sign-in sessions end (tokens stay). Raises ``UnknownUserError``
        and ``InvalidUserError``."""
        hashed = hash_password(check_password(password))
        with self._connect(write=True) as db:
            assert db is not None
            if db.execute("UPDATE users SET password = ? WHERE name = ?", (hashed, name)).rowcount == 0:
                raise UnknownUserError(f"No user {name!r} (qa users list shows them).")
            db.execute("DELETE FROM sessions WHERE user = ?", (name,))

    def set_role(self, name: str, role: str) -> TeamUser:
        """Give a user another role; it holds from their next request (sessions and tokens stay, and are
        checked against the new role). Raises ``UnknownUserError``, ``InvalidUserError`` (the role) and
        ``LastAdminError`` when the last admin would become something else."""
        role_rank(role)
        with self._connect(write=True) as db:
            assert db is not None
            user, last_admin = _existing_user(db, name)
            if last_admin and role != ADMIN:
                raise LastAdminError(f"{user.name!r} is the last admin: make another admin first.")
            db.execute("UPDATE users SET role = ? WHERE name = ?", (role, user.name))
        return TeamUser(user.name, role)

    def authenticate(self, name: str, password: str) -> TeamUser | None:
        """The user when ``password`` is theirs, else None. An unknown name costs as long as a known one."""
        with self._connect(write=False) as db:
            found = (
                None
                if db is None
                else db.execute("SELECT name, role, password FROM users WHERE name = ?", (name,)).fetchone()
            )
        if found is None:
            verify_password(password, _dummy_hash())
            return None
        if not verify_password(password, found[2]):
            return None
        with self._connect(write=True) as db:
            assert db is not None
            db.execute("UPDATE users SET last_signin = ? WHERE name = ?", (_now_text(), found[0]))
        return TeamUser(found[0], found[1])

    # Tokens -----------------------------------------------------------------------------------------

    def add_token(self, name: str, *, label: str = "") -> tuple[str, str]:
        """A new API token for user ``name``: ``(token id, token)``. Only the token's digest is kept, so this
        is the one time it can be shown. Raises ``UnknownUserError``."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = "t-" + secrets.token_hex(4)
        with self._connect(write=True) as db:
            assert db is not None
            row = db.execute("SELECT name FROM users WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise UnknownUserError(f"No user {name!r}: add it first with qa users add.")
            db.execute(
                "INSERT INTO tokens (id, user, digest, label, created) VALUES (?, ?, ?, ?, ?)",
                (token_id, row[0], _digest(token), label[:200], _now_text()),
            )
        return token_id, token

    def tokens(self, name: str | None = None) -> list[TokenRow]:
        """The tokens (of user ``name``, or everyone's), oldest first."""
        with self._connect(write=False) as db:
            if db is None:
                return []
            query = "SELECT id, user, label, created, last_used FROM tokens"
            rows = (
                db.execute(query + " WHERE user = ? ORDER BY created, id", (name,))
                if name is not None
                else db.execute(query + " ORDER BY created, id")
            ).fetchall()
        return [TokenRow(r[0], r[1], r[2], r[3], _now_text(r[4]) if r[4] else None) for r in rows]

    def revoke_token(self, token_or_id: str) -> TokenRow:
        """Revoke a token given by its id (``t-...``, as listed) or by the token itself; returns what was
        revoked. Raises ``UnknownTokenError``."""
        with self._connect(write=True) as db:
            assert db is not None
            row = db.execute(
                "SELECT id, user, label, created, last_used FROM tokens WHERE id = ? OR digest = ?",
                (token_or_id, _digest(token_or_id)),
            ).fetchone()
            if row is None:
                raise UnknownTokenError("No such token (qa tokens list shows their ids).")
            db.execute("DELETE FROM tokens WHERE id = ?", (row[0],))
        return TokenRow(row[0], row[1], row[2], row[3], _now_text(row[4]) if row[4] else None)

    def token_user(self, token: str, *, now: float | None = None) -> TeamUser | None:
        """The user an API token belongs to, or None for an unknown or revoked one."""
        now = time.time() if now is None else now
        with self._connect(write=False) as db:
            row = (
                None
                if db is None
                else db.execute(
                    "SELECT u.name, u.role, t.id, t.last_used FROM tokens t JOIN users u ON u.name = t.user "
                    "WHERE t.digest = ?",
                    (_digest(token),),
                ).fetchone()
            )
        if row is None:
            return None
        if row[3] is None or now - row[3] > _TOUCH_SECONDS:
            with self._connect(write=True) as db:
                assert db is not None
                db.execute("UPDATE tokens SET last_used = ? WHERE id = ?", (now, row[2]))
        return TeamUser(row[0], row[1])

    # Sessions ---------------------------------------------------------------------------------------

    def start_session(self, name: str, *, now: float | None = None) -> str:
        """A new sign-in session for user ``name``: the secret for its cookie (only its digest is kept).
        Sessions idle for ``SESSION_IDLE_SECONDS`` are cleared on the way."""
        now = time.time() if now is None else now
        secret = secrets.token_urlsafe(32)
        with self._connect(write=True) as db:
            assert db is not None
            db.execute("DELETE FROM sessions WHERE last_seen < ?", (now - SESSION_IDLE_SECONDS,))
            db.execute(
                "INSERT INTO sessions (digest, user, created, last_seen) VALUES (?, ?, ?, ?)",
                (_digest(secret), name, now, now),
            )
        return secret

    def session_user(self, secret: str, *, now: float | None = None) -> TeamUser | None:
        """The user signed in with session ``secret``, or None when it is unknown, ended or idle for longer
        than ``SESSION_IDLE_SECONDS`` (then it is removed). Each use keeps it alive."""
        now = time.time() if now is None else now
        with self._connect(write=False) as db:
            row = (
                None
                if db is None
                else db.execute(
                    "SELECT u.name, u.role, s.last_seen FROM sessions s JOIN users u ON u.name = s.user "
                    "WHERE s.digest = ?",
                    (_digest(secret),),
                ).fetchone()
            )
        if row is None:
            return None
        idle = now - row[2]
        if idle > _TOUCH_SECONDS:
            with self._connect(write=True) as db:
                assert db is not None
                if idle > SESSION_IDLE_SECONDS:
                    db.execute("DELETE FROM sessions WHERE digest = ?", (_digest(secret),))
                else:
                    db.execute("UPDATE sessions SET last_seen = ? WHERE digest = ?", (now, _digest(secret)))
        return TeamUser(row[0], row[1]) if idle <= SESSION_IDLE_SECONDS else None

    def end_session(self, secret: str) -> None:
        """Sign out: forget session ``secret`` (nothing happens for an unknown one)."""
        with self._connect(write=False) as db:
            known = (
                db is not None and db.execute("SELECT 1 FROM sessions WHERE digest = ?", (_digest(secret),)).fetchone()
            )
        if known:
            with self._connect(write=True) as db:
                assert db is not None
                db.execute("DELETE FROM sessions WHERE digest = ?", (_digest(secret),))

    # Audit trail ------------------------------------------------------------------------------------

    def record(self, *, user: str, via: str, action: str, target: str, ok: bool, outcome: str) -> None:
        """Add a line to the audit trail: ``user`` did ``action`` (e.g. "add", "remove", "add user") to
        ``target`` from ``via`` ("page" or "command line"), with ``outcome`` in words."""
        with self._connect(write=True) as db:
            assert db is not None
            db.execute(
                "INSERT INTO audit (at, user, via, action, target, ok, outcome) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (_now_text(), user, via, action, target, int(ok), outcome),
            )

    def audit(self, *, limit: int | None = None) -> list[AuditRow]:
        """The audit trail, newest first (the ``limit`` newest lines)."""
        with self._connect(write=False) as db:
            if db is None:
                return []
            rows = db.execute(
                "SELECT id, at, user, via, action, target, ok, outcome FROM audit ORDER BY id DESC LIMIT ?",
                (-1 if limit is None else limit,),
            ).fetchall()
        return [AuditRow(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7]) for r in rows]

    # Feedback ---------------------------------------------------------------------------------------

    def add_feedback(
        self, *, user: str, verdict: str, answer: dict[str, Any], selected: str | None = None
    ) -> FeedbackRow:
        """Record ``user``'s verdict on ``answer`` (``Answer.to_dict()``): "right", "wrong",
        "not_in_articles", or "answer_is" with ``selected``, text they selected in a shown passage (see
        ``find_span``). Raises ``FeedbackError`` for an unknown verdict, an answer without a question, or a
        selection found in no shown passage."""
        if verdict not in VERDICTS:
            raise FeedbackError(f"Unknown verdict {verdict!r}: use one of {', '.join(VERDICTS)}.")
        question = answer.get("question") if isinstance(answer, dict) else None
        if not question:
            raise FeedbackError("Ask a question first; then mark its answer.")
        span = span_doc = None
        if verdict == "answer_is":
            span, span_doc = find_span(answer, selected or "")
        citations = answer.get("citations") or []
        citation = None
        if answer.get("text") is not None and citations:
            first = citations[0]
            citation = {key: first.get(key) for key in ("doc_id", "title", "date", "paragraph", "chunk_id")}
            citation["quote"] = first["passage"][first["start"] : first["end"]]
        at = _now_text()
        with self._connect(write=True) as db:
            assert db is not None
            cursor = db.execute(
                "INSERT INTO feedback (at, user, verdict, question, answer, citation, span, span_doc) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    at,
                    user,
                    verdict,
                    question,
                    answer.get("text"),
                    json.dumps(citation, ensure_ascii=False) if citation else None,
                    span,
                    span_doc,
                ),
            )
            row_id = int(cursor.lastrowid or 0)
        return FeedbackRow(row_id, at, user, verdict, question, answer.get("text"), citation, span, span_doc)

    def feedback(self, *, limit: int | None = None) -> list[FeedbackRow]:
        """The feedback, oldest first (the ``limit`` newest, when given)."""
        with self._connect(write=False) as db:
            if db is None:
                return []
            rows = db.execute(
                "SELECT id, at, user, verdict, question, answer, citation, span, span_doc FROM feedback "
                "ORDER BY id DESC LIMIT ?",
                (-1 if limit is None else limit,),
            ).fetchall()
        return [
            FeedbackRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]) if r[6] else None, r[7], r[8])
            for r in reversed(rows)
        ]

    def export_gold(self, out: str | Path, *, replace: bool = False) -> ExportReport:
        """Write the feedback as gold pairs in ``eval/gold.jsonl``'s schema (``id``, ``question``,
        ``answers``, ``doc``, ``kind``), one per question (its latest verdict; questions compared without
        case and extra spaces): "right" keeps the answer given (kind "confirmed"; an abstention confirmed is
        an unanswerable pair), "the answer is …" the selected span ("corrected"), "not in these articles" an
        empty ``answers`` list ("unanswerable"). A bare "wrong" is not written but returned for review. The
        file is written whole or not at all; an existing one is kept unless ``replace``
        (``ExportExistsError``)."""
        target = Path(out)
        if target.exists() and not replace:
            raise ExportExistsError(f"{target} exists: choose another file, or pass --force to replace it.")
        latest: dict[str, FeedbackRow] = {}
        rows = self.feedback()
        for row in rows:
            latest[" ".join(row.question.lower().split())] = row
        lines, review = [], []
        for row in latest.values():
            gold: dict[str, Any] = {"id": f"feedback-{row.row_id}", "question": row.question}
            if row.verdict == "wrong":
                review.append(row)
                continue
            if row.verdict == "answer_is" and row.span:
                gold.update(answers=[row.span], doc=row.span_doc, kind="corrected")
            elif row.verdict == "right" and row.answer is not None and row.citation:
                gold.update(answers=[row.answer], doc=row.citation["doc_id"], kind="confirmed")
            else:  # not in these articles, or an abstention confirmed right
                gold.update(answers=[], kind="unanswerable")
            lines.append(json.dumps(gold, ensure_ascii=False))
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            temporary.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        return ExportReport(len(lines), tuple(review), len(rows) - len(latest))


class SignInThrottle:
    """Slows guessing: after the n-th failed sign-in in a row for a user name, or from an address, that name
    (or address) may try again only after ``min(base * 2**(n-1), cap)`` seconds: 1, 2, 4, 8, 16, 32, then
    60 s at most with the defaults. A try is counted as failed when it begins (``begin``), before its
    password is checked, so tries sent together cannot all pass; a success clears the name's and the
    address's count. A count idle for ``forget_seconds`` (15 minutes) is forgotten, and at most
    ``max_entries`` counts are kept (the longest idle go first). Kept in memory, per server process."""

    def __init__(
        self,
        *,
        base_seconds: float = 1.0,
        cap_seconds: float = 60.0,
        forget_seconds: float = 900.0,
        max_entries: int = 100_000,
        clock: Any = time.monotonic,
    ) -> None:
        self.base_seconds, self.cap_seconds, self.forget_seconds = base_seconds, cap_seconds, forget_seconds
        self.max_entries = max_entries
        self._clock = clock
        # (kind, name or address) -> (failures in a row, time of the last); ordered by that time, oldest first.
        self._failures: dict[tuple[str, str], tuple[int, float]] = {}
        self._lock = threading.Lock()

    def _keys(self, name: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("name", name.lower()), ("address", address)

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failed sign-ins in a row."""
        return 0.0 if failures <= 0 else min(self.base_seconds * 2 ** (failures - 1), self.cap_seconds)

    def _wait(self, name: str, address: str, now: float) -> float:
        wait = 0.0
        for key in self._keys(name, address):
            count, last = self._failures.get(key, (0, 0.0))
            if count and now - last <= self.forget_seconds:
                wait = max(wait, last + self.delay(count) - now)
        return max(wait, 0.0)

    def _stamp(self, key: tuple[str, str], count: int, now: float) -> None:
        """Set a count, keeping the table ordered by time and within its bounds."""
        self._failures.pop(key, None)
        self._failures[key] = (count, now)
        while self._failures:
            oldest = next(iter(self._failures))
            if len(self._failures) <= self.max_entries and now - self._failures[oldest][1] <= self.forget_seconds:
                break
            del self._failures[oldest]

    def wait_seconds(self, name: str, address: str) -> float:
        """How long this name and address must still wait before a sign-in is checked (0: go ahead)."""
        now = self._clock()
        with self._lock:
            return self._wait(name, address, now)

    def begin(self, name: str, address: str) -> float:
        """Before a password is checked: the seconds this name or address must still wait (nothing is
        counted then), or 0 once this try is counted as a failure, in the same step, until ``succeeded``
        clears it or ``failed`` confirms it."""
        now = self._clock()
        with self._lock:
            wait = self._wait(name, address, now)
            if wait > 0:
                return wait
            for key in self._keys(name, address):
                count, last = self._failures.get(key, (0, 0.0))
                self._stamp(key, (count if now - last <= self.forget_seconds else 0) + 1, now)
        return 0.0

    def failed(self, name: str, address: str) -> float:
        """A try counted by ``begin`` failed: the wait runs from now (not from when the password check
        began). Returns the seconds until the next try for this name or address."""
        now = self._clock()
        with self._lock:
            counts = []
            for key in self._keys(name, address):
                count = max(self._failures.get(key, (0, 0.0))[0], 1)
                self._stamp(key, count, now)
                counts.append(count)
        return self.delay(max(counts))

    def succeeded(self, name: str, address: str) -> None:
        """Forget the failures of this name and address."""
        with self._lock:
            for key in self._keys(name, address):
                self._failures.pop(key, None)
