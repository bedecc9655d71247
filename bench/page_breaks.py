"""How often ingestion joins two blocks as one paragraph cut by a page break, on text with no page breaks
(the SQuAD 1.1 dev articles written one paragraph per block: every join there is wrong) and on the
shipped corpus (whose real breaks must still be joined).

    python bench/page_breaks.py [--squad-dev ../shared/data/squad/dev-v1.1.json] [--out bench/results/page_breaks.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embeddings.documents import _header, clean_article, split_by_page_break, text_blocks  # noqa: E402


def joins(raw: str) -> list[str]:
    """The body blocks of ``raw`` (after title, date and byline) that ingestion appends to the one before,
    checked against the paragraphs of the cleaned document."""
    blocks = text_blocks(raw)
    _, _, body = _header(blocks[1:])
    joined = [
        text
        for (previous_heading, previous), (heading, text) in itertools.pairwise(body)
        if not previous_heading and not heading and split_by_page_break(previous, text)
    ]
    paragraphs = clean_article(raw, doc_id="x").text.split("\n\n")
    assert len(body) - len(joined) == len(paragraphs), "the count disagrees with clean_article"
    return joined


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad-dev", default=str(ROOT.parent / "shared/data/squad/dev-v1.1.json"))
    parser.add_argument("--corpus", default=str(ROOT / "corpus"), help="folder of the shipped articles")
    parser.add_argument("--out", default=str(ROOT / "bench/results/page_breaks.json"), help="where to write")
    args = parser.parse_args()
    articles = json.loads(Path(args.squad_dev).read_text(encoding="utf-8"))["data"]
    squad_pairs, squad_joins = 0, []
    for article in articles:
        contexts = [" ".join(p["context"].split()) for p in article["paragraphs"]]
        squad_pairs += len(contexts) - 1
        raw = article["title"].replace("_", " ") + "\n\n" + "\n\n".join(contexts)
        squad_joins += [f"{article['title']}: {text[:60]}" for text in joins(raw)]
    corpus = {}
    for path in sorted(Path(args.corpus).glob("*.txt")):
        corpus[path.name] = [text[:60] for text in joins(path.read_text(encoding="utf-8"))]
    result = {
        "squad_dev_articles": len(articles),
        "squad_dev_paragraph_pairs": squad_pairs,
        "squad_dev_joins": len(squad_joins),
        "squad_dev_joined": squad_joins,
        "corpus_joins": sum(len(v) for v in corpus.values()),
        "corpus_joined": corpus,
    }
    Path(args.out).write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if not k.endswith("joined")}, indent=1))


if __name__ == "__main__":
    main()
