"""The ``qa`` command: ``index``, ``search``, ``ask``, ``serve`` and ``eval``. Errors become one-line
messages (exit status 2), never tracebacks."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _marked(passage: str, start: int, end: int) -> str:
    return f"{passage[:start]}[[{passage[start:end]}]]{passage[end:]}"


def cmd_index(args: argparse.Namespace) -> int:
    from embeddings import SentenceTransformerEncoder, build_index
    from qa.pipeline import default_corpus_dir, default_index_dir

    corpus = Path(args.corpus) if args.corpus else default_corpus_dir()
    index = Path(args.index) if args.index else default_index_dir()
    encoder = SentenceTransformerEncoder()
    if args.if_needed and _index_is_current(index, corpus, encoder):
        print(f"The index at {index} is up to date with {corpus}.")
        return 0
    report = build_index(corpus, index, encoder=encoder, index_type=args.index_type)
    manifest = report.manifest
    print(f"Indexed {manifest.document_count} documents, {manifest.chunk_count} chunks into {index} "
          f"({report.embedded} embedded, {report.reused} reused from the previous index) in {report.seconds:.1f}s.")
    for skipped in report.skipped:
        print(f"  skipped {skipped.path}: {skipped.reason}")
    return 0


def _index_is_current(index: Path, corpus: Path, encoder) -> bool:
    from embeddings import IndexLoadError, load_index

    try:
        load_index(index, encoder_id=encoder.encoder_id, dimension=encoder.dimension, corpus_dir=corpus)
        return True
    except IndexLoadError:
        return False


def cmd_search(args: argparse.Namespace) -> int:
    from qa import get_answerer
    from qa.questions import clean_question

    answerer = get_answerer(index_dir=args.index, corpus_dir=args.corpus)
    results = answerer.retrieve(clean_question(args.question), top_k=args.k, mode=args.mode)
    documents = answerer.index.documents
    if not results:
        print("No passage matches.")
    for result in results:
        document = documents[result.chunk.doc_id]
        scores = f"score {result.score:.4f}"
        if result.dense_score is not None:
            scores += f"  dense {result.dense_score:.3f}"
        if result.bm25_score is not None:
            scores += f"  bm25 {result.bm25_score:.2f}"
        print(f"{result.rank + 1}. {document.title} ({document.date or 'date unknown'}) "
              f"[{document.doc_id}, paragraph {result.chunk.index + 1}]  {scores}")
        print(f"   {result.chunk.text}\n")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    import qa

    result = qa.answer(args.question, top_k=args.k, mode=args.mode, index_dir=args.index, corpus_dir=args.corpus)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=1))
        return 0
    if result.text is None:
        print(f"Not found in the corpus (confidence {result.score:.0%} that it does not answer this).")
        return 0
    citation = result.citations[0]
    print(f"Answer: {result.text}")
    print(f"Confidence: {result.score:.0%}")
    print(f"Source: {citation.title} ({citation.date or 'date unknown'}) [{citation.doc_id}, paragraph {citation.paragraph + 1}]")
    print(f"Passage: {_marked(citation.passage, citation.start, citation.end)}")
    for alternative in result.alternatives:
        alt = alternative.citations[0]
        print(f"Also: {alternative.text} ({alternative.score:.0%}) in {alt.title} ({alt.date or 'date unknown'})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from app import serve

    serve(host=args.host, port=args.port, index_dir=args.index, corpus_dir=args.corpus)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from eval.__main__ import main as eval_main

    forwarded = ["--gold", args.gold, "--out", args.out, "--mode", args.mode]
    if args.top_k is not None:
        forwarded += ["--top-k", str(args.top_k)]
    return eval_main(forwarded)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Offline extractive question answering over corpus/.")
    commands = parser.add_subparsers(dest="command", required=True)

    def paths(sub):
        sub.add_argument("--index", default=None, help="index folder (default: $QA_INDEX or ./index)")
        sub.add_argument("--corpus", default=None, help="corpus folder (default: $QA_CORPUS or ./corpus)")

    index = commands.add_parser("index", help="build or update the index from the corpus folder")
    paths(index)
    index.add_argument("--index-type", choices=("flat", "hnsw"), default="flat", help="exact (flat) or approximate (hnsw)")
    index.add_argument("--if-needed", action="store_true", help="do nothing when the index is up to date")
    index.set_defaults(handler=cmd_index)

    search = commands.add_parser("search", help="show the passages retrieved for a question")
    paths(search)
    search.add_argument("question")
    search.add_argument("-k", type=int, default=5)
    search.add_argument("--mode", choices=("dense", "bm25", "hybrid"), default="hybrid")
    search.set_defaults(handler=cmd_search)

    ask = commands.add_parser("ask", help="answer a question with its citation")
    paths(ask)
    ask.add_argument("question")
    ask.add_argument("-k", type=int, default=None, help="passages to read (default 5)")
    ask.add_argument("--mode", choices=("dense", "bm25", "hybrid"), default=None)
    ask.add_argument("--json", action="store_true", help="print the Answer as JSON")
    ask.set_defaults(handler=cmd_ask)

    serve = commands.add_parser("serve", help="start the web page")
    paths(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7860)
    serve.set_defaults(handler=cmd_serve)

    evaluate = commands.add_parser("eval", help="score the system on a gold question set")
    evaluate.add_argument("--gold", default="eval/gold.jsonl")
    evaluate.add_argument("--out", default="eval/report")
    evaluate.add_argument("--top-k", type=int, default=None)
    evaluate.add_argument("--mode", choices=("dense", "bm25", "hybrid"), default="hybrid")
    evaluate.set_defaults(handler=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``qa`` console script; returns the exit status."""
    from qa.errors import USER_ERRORS

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
