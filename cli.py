"""The ``qa`` command: ``index``, ``search``, ``ask``, ``add``, ``remove``, ``serve`` and ``eval``, and for a
served team ``users``, ``tokens``, ``audit`` and ``feedback``.

It sits at the top of the house, beside the page (``app.py``) and the eval (``eval/``): it imports them,
never the other way round. Errors the library expects become one-line messages with exit status 2;
anything else is a bug and keeps its traceback. Run it as ``qa`` (installed) or ``python -m cli``.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from embeddings.index import INDEX_TYPES
from embeddings.retrieval import MODES
from qa.defaults import (
    DEFAULT_MODE,
    DEFAULT_TOP_K,
    STORES,
    default_corpus_dir,
    default_index_dir,
    default_milvus_uri,
    default_store,
)
from qa.team import ROLES, TeamStore
from qa.version import version


def _marked(passage: str, start: int, end: int) -> str:
    return f"{passage[:start]}[[{passage[start:end]}]]{passage[end:]}"


def _date(date: str | None) -> str:
    return date or "date unknown"


def cmd_index(args: argparse.Namespace) -> int:
    """Build or update the index (a folder, or Milvus with ``--store milvus``); with ``--if-needed``, only
    when it is missing or out of date."""
    from embeddings import IndexLoadError, SentenceTransformerEncoder, build_index, load_index

    if args.engine != "ray" and (args.ray_address or args.ray_actors):
        print("error: --ray-address and --ray-actors go with --engine ray", file=sys.stderr)
        return 2
    corpus = Path(args.corpus) if args.corpus else default_corpus_dir()
    index = Path(args.index) if args.index else default_index_dir()
    store = args.store or default_store()
    uri = args.milvus_uri or default_milvus_uri()
    encoder = SentenceTransformerEncoder()
    _ensure_query_graph()
    loader: Callable[..., object]
    if store == "milvus":
        from embeddings.milvus_store import build_milvus_index, load_milvus_index

        loader = functools.partial(load_milvus_index, uri)
        where = f"Milvus at {uri}"
    else:
        loader = functools.partial(load_index, index)
        where = str(index)
    if args.if_needed:
        try:
            loader(encoder_id=encoder.encoder_id, dimension=encoder.dimension, corpus_dir=corpus)
            print(f"The index in {where} is up to date with {corpus}.")
            return 0
        except IndexLoadError:
            pass
    progress = sys.stderr.isatty()
    engine = None
    if args.engine == "ray":
        from embeddings.ray_engine import RayEngine

        engine = RayEngine(encoder, address=args.ray_address, actors=args.ray_actors)
    if store == "milvus":
        report = build_milvus_index(corpus, uri, encoder=encoder, progress=progress, engine=engine)
    else:
        report = build_index(
            corpus, index, encoder=encoder, index_type=args.index_type, progress=progress, engine=engine
        )
    manifest = report.manifest
    print(
        f"Indexed {manifest.document_count} documents, {manifest.chunk_count} chunks into {where} "
        f"({manifest.index_type} index) "
        f"({report.embedded} embedded, {report.reused} reused from the previous index) in {report.seconds:.1f}s."
    )
    for skipped in report.skipped:
        print(f"  skipped {skipped.path}: {skipped.reason}")
    return 0


def _ensure_query_graph() -> None:
    """Export the query encoder to ONNX Runtime when its graph is missing or older than the model, so that
    answering never needs torch (``embeddings.onnx_encoder``)."""
    from embeddings.encoder import packaged_minilm_dir
    from embeddings.onnx_encoder import DEFAULT_GRAPH_DIR, export_query_graph, graph_is_current

    model_dir = packaged_minilm_dir()
    if not graph_is_current(model_dir, DEFAULT_GRAPH_DIR):
        path = export_query_graph(model_dir, DEFAULT_GRAPH_DIR)
        print(f"Exported the query encoder for ONNX Runtime to {path}.")


def cmd_search(args: argparse.Namespace) -> int:
    """Print the passages retrieved for a question, best first, with their scores."""
    import qa

    passages = qa.search(args.question, top_k=args.k, mode=args.mode, index_dir=args.index, corpus_dir=args.corpus)
    if not passages:
        print("No passage matches.")
    for passage in passages:
        print(
            f"{passage.rank + 1}. {passage.title} ({_date(passage.date)}) "
            f"[{passage.doc_id}, paragraph {passage.paragraph}]  {passage.score_summary}"
        )
        print(f"   {passage.text}\n")
    return 0


DEFAULT_SERVER_URL = "http://127.0.0.1:7860"


class ServerRefusedError(Exception):
    """A running server refused the question, or the question cannot be sent to it safely; the message
    says why."""


def _is_loopback_name(host: str) -> bool:
    """True for localhost or a loopback address: a server on this machine."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _ask_server(args: argparse.Namespace) -> dict | None:
    """The answer from a running ``qa serve`` over the same index and corpus, as ``Answer.to_dict()``; None
    when no such server answers (then the caller answers in this process). A server that refuses the
    question (bad input) raises ``ServerRefusedError`` with its message, as does a token that would travel
    over plain http to another machine."""
    import urllib.error
    import urllib.parse
    import urllib.request

    url = os.environ.get("QA_SERVER_URL", DEFAULT_SERVER_URL).rstrip("/")
    if args.local or url.lower() in ("", "none", "off"):
        return None
    token = os.environ.get("QA_TOKEN", "").strip()
    params = {
        "q": args.question,
        "index": str(Path(args.index or default_index_dir()).resolve()),
        "corpus": str(Path(args.corpus or default_corpus_dir()).resolve()),
    }
    if args.k is not None:
        params["k"] = str(args.k)
    if args.mode is not None:
        params["mode"] = args.mode
    request = urllib.request.Request(f"{url}/api/answer?{urllib.parse.urlencode(params)}")
    if token:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "https" and not _is_loopback_name(parts.hostname or ""):
            raise ServerRefusedError(
                f"not sending $QA_TOKEN to {url} over plain http, where anyone on the way could read it: use "
                "an https:// address in QA_SERVER_URL (plain http is only for a server on this machine)."
            )
        # Not copied onto a redirect: the token goes only to the server it was meant for.
        request.add_unredirected_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        if error.code == 400:  # the question or an option was refused: the same error as in-process
            raise ServerRefusedError(json.loads(error.read().decode("utf-8"))["error"]) from None
        if error.code in (401, 403):  # a server for a team: answering here instead would go round its sign-in
            why = "the token in $QA_TOKEN was refused" if token else "it needs a token and $QA_TOKEN is not set"
            raise ServerRefusedError(
                f"the server at {url} refused the question ({error.code}: {why}). Set QA_TOKEN to a token from "
                "qa tokens add NAME, or answer in this process with --local."
            ) from None
        return None  # another index (409), or not our server (404)
    except (OSError, ValueError):
        return None  # nothing listening, or not answering JSON


def print_answer(answer: dict) -> None:
    """Print an answer (``Answer.to_dict()``): the answer, its confidence, source, marked passage, others."""
    if answer["text"] is None:
        print(f"Not found in the corpus (confidence {answer['score']:.0%} that it does not answer this).")
        return
    citation = answer["citations"][0]
    from qa.presenting import confidence_words

    print(f"Answer: {answer['text']}")
    print(f"Confidence: {confidence_words(answer['score'])} ({answer['score']:.0%})")
    print(
        f"Source: {citation['title']} ({_date(citation['date'])}) "
        f"[{citation['doc_id']}, paragraph {citation['paragraph']}]"
    )
    print(f"Passage: {_marked(citation['passage'], citation['start'], citation['end'])}")
    for alternative in answer["alternatives"]:
        alt = alternative["citations"][0]
        print(f"Also: {alternative['text']} ({alternative['score']:.0%}) in {alt['title']} ({_date(alt['date'])})")


def cmd_ask(args: argparse.Namespace) -> int:
    """Answer a question through a running ``qa serve`` when one serves this index (no models to load),
    else in this process; print the answer, its confidence, its source and the marked passage."""
    try:
        answer = _ask_server(args)
    except ServerRefusedError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if answer is None:
        import qa

        result = qa.answer(args.question, top_k=args.k, mode=args.mode, index_dir=args.index, corpus_dir=args.corpus)
        answer = result.to_dict()
    if args.json:
        print(json.dumps(answer, ensure_ascii=False, indent=1))
    else:
        print_answer(answer)
    return 0


def _team(args: argparse.Namespace) -> TeamStore:
    """The team file of the ``--index`` folder (default: $QA_INDEX or ./index)."""
    return TeamStore.for_index(args.index or default_index_dir())


def _system_user() -> str:
    """The operating-system user running the command (the audit trail's "who" on the command line)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name: a container without a user entry, say
        return f"uid {os.getuid()}"


def _audit(args: argparse.Namespace, action: str, target: str, ok: bool, outcome: str) -> None:
    """A line in the audit trail under the operating-system user's name. A trail that cannot be written is
    warned about; the change has happened all the same."""
    try:
        _team(args).record(
            user=_system_user(), via="command line", action=action, target=target, ok=ok, outcome=outcome
        )
    except Exception as error:  # an unwritable folder, a locked or damaged file
        print(f"warning: the audit trail could not be written ({error})", file=sys.stderr)


def cmd_add(args: argparse.Namespace) -> int:
    """Copy files into the corpus folder (checked and named safely as the page's upload does); the next
    ``qa index``, or a running ``qa serve`` within seconds, indexes them. Each file goes into the audit
    trail under the operating-system user's name."""
    from embeddings.corpus import add_file

    corpus = Path(args.corpus) if args.corpus else default_corpus_dir()
    status = 0
    for name in args.files:
        path = Path(name)
        try:
            added = add_file(corpus, path.name, path.read_bytes())
        except OSError as error:
            print(f"error: {name} could not be read ({error.strerror or error})", file=sys.stderr)
            _audit(args, "add", path.name, False, f"could not be read ({error.strerror or error})")
            status = 2
            continue
        except ValueError as error:  # FileRejectedError: too large, unsupported, unreadable
            print(f"error: {error}", file=sys.stderr)
            _audit(args, "add", path.name, False, f"refused: {error}")
            status = 2
            continue
        count = len(added.documents)
        _audit(args, "add", path.name, True, f"added as {added.path.name} ({count} document{'s' * (count != 1)})")
        print(f"Added {added.path} ({len(added.documents)} documents).")
        for skipped in added.skipped:
            print(f"  skipped {skipped.path}: {skipped.reason}")
    return status


def cmd_remove(args: argparse.Namespace) -> int:
    """Move a corpus file to the corpus folder's .trash folder, out of the index's sight (audited as
    ``qa add`` is)."""
    from embeddings.corpus import remove_file
    from qa.errors import USER_ERRORS

    corpus = Path(args.corpus) if args.corpus else default_corpus_dir()
    try:
        kept = remove_file(corpus, args.file)
    except USER_ERRORS as error:
        _audit(args, "remove", args.file, False, f"refused: {error}")
        raise
    _audit(args, "remove", args.file, True, f"moved to {kept.parent.name}/{kept.name}")
    print(f"Removed {args.file} (kept as {kept}).")
    return 0


def _password(args: argparse.Namespace) -> str:
    """The password for ``qa users add`` / ``passwd``: one line from stdin with ``--password-stdin``, else
    typed twice on the terminal (never echoed). Raises ``InvalidUserError`` when neither is possible or
    the two differ."""
    import getpass

    from qa.team import InvalidUserError, check_password

    if args.password_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        return check_password(password.removesuffix("\r"))
    if not sys.stdin.isatty():
        raise InvalidUserError("No terminal to ask for the password on: pass it on one line with --password-stdin.")
    password = check_password(getpass.getpass(f"Password for {args.name}: "))
    if getpass.getpass("The same password again: ") != password:
        raise InvalidUserError("The two passwords differ; nothing was changed.")
    return password


def cmd_users(args: argparse.Namespace) -> int:
    """``qa users add|list|remove|passwd|role``: the people who may use a served page, and their roles."""
    team = _team(args)
    if args.action == "list":
        rows = team.users()
        if not rows:
            print(f"No users in {team.path}: a server on 127.0.0.1 is open to this machine without sign-in.")
        for row in rows:
            print(
                f"{row.name}\t{row.role}\tadded {row.created}\tlast sign-in {row.last_signin or 'never'}\t"
                f"{row.tokens} token{'s' if row.tokens != 1 else ''}"
            )
        return 0
    if args.action == "add":
        team.add_user(args.name, args.role, _password(args))
        outcome, done = f"added as {args.role}", f"Added {args.name} ({args.role}) to {team.path}."
    elif args.action == "passwd":
        team.set_password(args.name, _password(args))
        outcome, done = "password changed; their sign-in sessions ended", f"Changed the password of {args.name}."
    elif args.action == "role":
        team.set_role(args.name, args.role)
        outcome, done = f"role set to {args.role}", f"{args.name} is now {args.role}."
    else:
        team.remove_user(args.name)
        outcome, done = "removed, with their tokens and sessions", f"Removed {args.name}."
    words = {"add": "add user", "passwd": "change password", "role": "set role", "remove": "remove user"}[args.action]
    team.record(user=_system_user(), via="command line", action=words, target=args.name, ok=True, outcome=outcome)
    print(done)
    return 0


def cmd_tokens(args: argparse.Namespace) -> int:
    """``qa tokens add|list|revoke``: API tokens for ``/api/answer`` and ``qa ask`` ($QA_TOKEN)."""
    team = _team(args)
    if args.action == "list":
        rows = team.tokens(args.name)
        if not rows:
            print("No tokens.")
        for row in rows:
            label = f"\t{row.label}" if row.label else ""
            print(f"{row.token_id}\t{row.user}\tcreated {row.created}\tlast used {row.last_used or 'never'}{label}")
        return 0
    user = _system_user()
    if args.action == "add":
        token_id, token = team.add_token(args.name, label=args.label or "")
        team.record(user=user, via="command line", action="add token", target=args.name, ok=True, outcome=token_id)
        print(f"Token {token_id} for {args.name} (shown this once; keep it like a password):", file=sys.stderr)
        print(token)
        return 0
    row = team.revoke_token(args.token)
    team.record(user=user, via="command line", action="revoke token", target=row.user, ok=True, outcome=row.token_id)
    print(f"Revoked {row.token_id} of {row.user}.")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Print the audit trail, newest first: when, who, from where, what, which file or user, the outcome."""
    rows = _team(args).audit(limit=args.limit)
    if not rows:
        print("Nothing recorded yet.")
    for row in rows:
        print(f"{row.at}\t{row.user}\t{row.via}\t{row.action}\t{row.target}\t{row.outcome}")
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    """``qa feedback list``: people's verdicts on answers; ``qa feedback export --out F.jsonl``: them as gold
    pairs for ``python -m eval --gold F.jsonl`` (bare "wrong" verdicts are listed for review instead)."""
    from qa.team import VERDICT_WORDS

    team = _team(args)
    if args.action == "list":
        rows = team.feedback(limit=args.limit)
        if not rows:
            print("No feedback yet.")
        for row in rows:
            said = (
                f"the answer is “{row.span}” ({row.span_doc})"
                if row.verdict == "answer_is"
                else VERDICT_WORDS[row.verdict]
            )
            cited = f" [{row.citation['doc_id']}, paragraph {row.citation['paragraph']}]" if row.citation else ""
            given = "no answer" if row.answer is None else f"“{row.answer}”{cited}"
            print(f"{row.row_id}\t{row.at}\t{row.user}\t{row.question}\tgave {given}\t{said}")
        return 0
    report = team.export_gold(args.out, replace=args.force)
    print(f"Wrote {report.written} gold question{'s' if report.written != 1 else ''} to {args.out}.")
    if report.superseded:
        print(f"{report.superseded} earlier verdict(s) on the same questions were replaced by later ones.")
    if report.for_review:
        print(f"{len(report.for_review)} answer(s) marked wrong without the right one, for review (not written):")
        for row in report.for_review:
            print(f"  {row.row_id}\t{row.user}\t{row.question}\tgave {row.answer!r}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the page until interrupted."""
    from app import serve

    serve(
        host=args.host,
        port=args.port,
        index_dir=args.index,
        corpus_dir=args.corpus,
        watch_seconds=args.watch_seconds,
        no_auth=args.no_auth,
        behind_https=args.behind_https,
    )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Score the system on gold files (``eval.run.main``)."""
    from eval.run import main as eval_main

    forwarded = ["--out", args.out, "--mode", args.mode, "--top-k", str(args.top_k)]
    if args.gold:
        forwarded += ["--gold", *args.gold]
    for option in ("index", "corpus"):
        if getattr(args, option):
            forwarded += [f"--{option}", getattr(args, option)]
    return eval_main(forwarded)


def _positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``qa`` argument parser with its subcommands (each one's help is also its description)."""
    parser = argparse.ArgumentParser(prog="qa", description="Offline extractive question answering over corpus/.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=summary, description=summary)

    def paths(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--index", default=None, help="index folder (default: $QA_INDEX or ./index)")
        sub.add_argument("--corpus", default=None, help="corpus folder (default: $QA_CORPUS or ./corpus)")

    index = command("index", "build or update the index from the corpus folder")
    paths(index)
    index.add_argument(
        "--index-type",
        choices=("auto", *INDEX_TYPES),
        default="auto",
        help="FAISS index: exact (flat), a graph (hnsw) or compressed (ivfpq, for corpora too large for memory); "
        "auto (default) picks flat below 200,000 passages, else hnsw, and says which",
    )
    index.add_argument("--if-needed", action="store_true", help="do nothing when the index is up to date")
    index.add_argument(
        "--store",
        choices=STORES,
        default=None,
        help="where the index lives: faiss (the --index folder) or milvus (default: $QA_STORE or faiss)",
    )
    index.add_argument(
        "--milvus-uri",
        default=None,
        help="with --store milvus: a Milvus Lite file (*.db) or a server, http://host:19530 "
        "(default: $QA_MILVUS_URI or index-milvus/qa.db)",
    )
    index.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="read, chunk and embed in this process (local, default) or on Ray: tasks read and chunk the files, "
        "an actor pool embeds (ray; the scale extra)",
    )
    index.add_argument(
        "--ray-address",
        default=None,
        help="with --engine ray: a Ray cluster to run on, e.g. ray://head:10001 (default: a local Ray)",
    )
    index.add_argument(
        "--ray-actors",
        type=_positive_int,
        default=None,
        help="with --engine ray: encoders in the actor pool, one core each (default: this machine's cores)",
    )
    index.set_defaults(handler=cmd_index)

    search = command("search", "show the passages retrieved for a question")
    paths(search)
    search.add_argument("question", help="the question to retrieve passages for")
    search.add_argument("-k", type=int, default=DEFAULT_TOP_K, help=f"passages to show (default {DEFAULT_TOP_K})")
    search.add_argument("--mode", choices=MODES, default=None, help=f"retrieval mode (default {DEFAULT_MODE})")
    search.set_defaults(handler=cmd_search)

    ask = command("ask", "answer a question with its citation")
    paths(ask)
    ask.add_argument("question", help="the question to answer")
    ask.add_argument("-k", type=int, default=None, help=f"passages to read (default {DEFAULT_TOP_K})")
    ask.add_argument("--mode", choices=MODES, default=None, help=f"retrieval mode (default {DEFAULT_MODE})")
    ask.add_argument("--json", action="store_true", help="print the Answer as JSON")
    ask.add_argument(
        "--local",
        action="store_true",
        help="answer in this process even when a qa serve is running "
        f"(by default the one at $QA_SERVER_URL, else {DEFAULT_SERVER_URL}, answers when it serves the same index)",
    )
    ask.set_defaults(handler=cmd_ask)

    add = command("add", "add files to the corpus folder (.txt .md .html .pdf .jsonl .csv)")
    paths(add)
    add.add_argument("files", nargs="+", help="the files to add (each checked; a refused one is named with why)")
    add.set_defaults(handler=cmd_add)

    remove = command("remove", "move a corpus file to the corpus folder's .trash")
    paths(remove)
    remove.add_argument("file", help="the file's path inside the corpus folder, as the page's File column shows it")
    remove.set_defaults(handler=cmd_remove)

    serve = command("serve", "start the web page")
    paths(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    serve.add_argument(
        "--watch-seconds",
        type=float,
        default=2.0,
        help="how often to look for changed corpus files and index them while serving (default 2; 0: never)",
    )
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help="with no users, serve an address other than 127.0.0.1 without sign-in (anyone who reaches it can "
        "change the corpus); once users exist, everyone signs in anyway",
    )
    serve.add_argument(
        "--behind-https",
        action="store_true",
        help="an HTTPS reverse proxy stands in front: mark cookies Secure (also done when the proxy sends "
        "X-Forwarded-Proto: https)",
    )
    serve.set_defaults(handler=cmd_serve)

    def team_file(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--index", default=None, help="the index folder whose team file (INDEX.team.sqlite beside it) to use"
        )

    def password_stdin(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--password-stdin", action="store_true", help="read the password from one line of stdin, not a terminal"
        )

    users = command("users", "the people who may use a served page: add, list, remove, passwd, role")
    user_actions = users.add_subparsers(dest="action", required=True)
    user_add = user_actions.add_parser("add", help="add a user (the first must be an admin)")
    user_add.add_argument("name", help="1-64 letters, digits and . _ @ -")
    role_help = (
        "reader: asks, searches, reads; editor: also adds and removes documents; admin: also manages users "
        "and sees the audit trail"
    )
    user_add.add_argument("--role", choices=ROLES, required=True, help=role_help)
    password_stdin(user_add)
    user_list = user_actions.add_parser("list", help="list the users and their roles")
    user_remove = user_actions.add_parser("remove", help="remove a user with their tokens and sessions")
    user_remove.add_argument("name")
    user_passwd = user_actions.add_parser("passwd", help="set a user's password (their sessions end)")
    user_passwd.add_argument("name")
    password_stdin(user_passwd)
    user_role = user_actions.add_parser("role", help="give a user another role (from their next request)")
    user_role.add_argument("name")
    user_role.add_argument("--role", choices=ROLES, required=True, help=role_help)
    for sub in (user_add, user_list, user_remove, user_passwd, user_role):
        team_file(sub)
    users.set_defaults(handler=cmd_users)

    tokens = command("tokens", "API tokens for /api/answer and qa ask ($QA_TOKEN): add, list, revoke")
    token_actions = tokens.add_subparsers(dest="action", required=True)
    token_add = token_actions.add_parser("add", help="make a token for a user and print it (only this once)")
    token_add.add_argument("name", help="the user the token acts as (with their role)")
    token_add.add_argument("--label", default=None, help="what the token is for, shown by qa tokens list")
    token_list = token_actions.add_parser("list", help="list the tokens (ids, never the tokens themselves)")
    token_list.add_argument("name", nargs="?", default=None, help="only this user's")
    token_revoke = token_actions.add_parser("revoke", help="revoke a token")
    token_revoke.add_argument("token", help="its id (t-..., from qa tokens list) or the token itself")
    for sub in (token_add, token_list, token_revoke):
        team_file(sub)
    tokens.set_defaults(handler=cmd_tokens)

    audit = command("audit", "show who added or removed which file (and changed users), newest first")
    team_file(audit)
    audit.add_argument("--limit", type=_positive_int, default=None, help="only the newest N lines")
    audit.set_defaults(handler=cmd_audit)

    feedback = command("feedback", "people's verdicts on answers: list them, or export them as gold pairs")
    feedback_actions = feedback.add_subparsers(dest="action", required=True)
    feedback_list = feedback_actions.add_parser("list", help="list the feedback, oldest first")
    feedback_list.add_argument("--limit", type=_positive_int, default=None, help="only the newest N")
    feedback_export = feedback_actions.add_parser(
        "export", help="write gold pairs in eval/gold.jsonl's schema (score them with python -m eval --gold F)"
    )
    feedback_export.add_argument("--out", required=True, help="the .jsonl file to write")
    feedback_export.add_argument("--force", action="store_true", help="replace the file if it exists")
    for sub in (feedback_list, feedback_export):
        team_file(sub)
    feedback.set_defaults(handler=cmd_feedback)

    evaluate = command("eval", "score the system on gold question sets")
    paths(evaluate)
    evaluate.add_argument(
        "--gold", nargs="+", default=None, help="gold .jsonl files (default: eval/gold.jsonl and eval/gold_hard.jsonl)"
    )
    evaluate.add_argument("--out", default="eval/report", help="folder for the report and plots")
    evaluate.add_argument("--top-k", type=int, default=DEFAULT_TOP_K, help=f"passages read (default {DEFAULT_TOP_K})")
    evaluate.add_argument(
        "--mode", choices=MODES, default=DEFAULT_MODE, help=f"retrieval mode (default {DEFAULT_MODE})"
    )
    evaluate.set_defaults(handler=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``qa`` console script; returns the exit status."""
    from qa.errors import USER_ERRORS
    from qa.team import TeamError

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # this process never reaches for a model hub
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    args = build_parser().parse_args(argv)
    expected: tuple[type[Exception], ...] = (*USER_ERRORS, TeamError)
    try:
        return int(args.handler(args))
    except expected as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
