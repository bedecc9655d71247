"""Check the news development set: python eval/dev_news/validate.py (standard library only).

Checks that every article keeps the layout (title, blank line, date line, blank line, at least four
paragraphs), that every question line has the gold schema with a unique id and an allowed kind, that
every ``doc`` exists in corpus/, and that every answer string occurs verbatim in its doc. It also
recomputes the ``paraphrase`` flag (at most a third of the question's content words appear in the
sentence that holds the answer; for a question without answers, in the doc's closest sentence) and
reports where the stored flag differs. Exit status 1 when any check fails.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
QUESTIONS = HERE / "questions.jsonl"
KINDS = {"number", "money", "date", "person", "place", "organisation", "other", "unanswerable"}
FIELDS = {"id", "question", "answers", "doc", "kind", "paraphrase"}

STOPWORDS = set(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers him his how i if in into is it its itself just me more most my no nor
    not of off on once only or other our out over own same she should so some such than that the their
    them then there these they this those through to too under until up very was we were what when
    where which while who whom whose why will with would you your according report article piece
    story said say says""".split()
)


def content_words(text: str) -> set[str]:
    """Lower-cased word stems minus stop words (a crude stem: plural s and possessive dropped)."""
    words = set()
    for word in re.findall(r"[a-z0-9]+(?:[-'][a-z0-9]+)*", text.lower()):
        word = word.removesuffix("'s")
        if word in STOPWORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        words.add(word)
    return words


def sentences(text: str) -> list[str]:
    parts: list[str] = []
    for paragraph in text.split("\n"):
        parts.extend(s for s in re.split(r"(?<=[.!?])\s+", paragraph.strip()) if s)
    return parts


def overlap(question: str, sentence: str) -> float:
    words = content_words(question)
    return len(words & content_words(sentence)) / len(words) if words else 0.0


def computed_paraphrase(row: dict, text: str) -> tuple[bool, float]:
    """True when at most a third of the question's content words are in the answer's sentence."""
    candidates = sentences(text)
    if row["answers"]:
        holding = [s for s in candidates if row["answers"][0] in s] or [text]
        share = max(overlap(row["question"], s) for s in holding)
    else:
        share = max(overlap(row["question"], s) for s in candidates)
    return share <= 1 / 3, share


def check_article(path: Path) -> list[str]:
    problems = []
    lines = path.read_text(encoding="utf-8").split("\n")
    if len(lines) < 5 or not lines[0].strip() or lines[1] != "" or not lines[2].strip() or lines[3] != "":
        problems.append(f"{path.name}: expected title, blank line, date line, blank line")
    body = "\n".join(lines[4:]).strip()
    paragraphs = [p for p in body.split("\n\n") if p.strip()]
    if len(paragraphs) < 4:
        problems.append(f"{path.name}: only {len(paragraphs)} paragraphs")
    return problems


def main() -> int:
    problems: list[str] = []
    docs = {p.name: p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt"))}
    for path in sorted(CORPUS.glob("*.txt")):
        problems.extend(check_article(path))

    seen: set[str] = set()
    kinds: Counter = Counter()
    per_doc: Counter = Counter()
    answerable = unanswerable = paraphrased = 0
    flag_mismatches = []
    for number, line in enumerate(QUESTIONS.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"questions.jsonl line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(f"{where}: not JSON ({error})")
            continue
        missing = FIELDS - row.keys()
        if missing:
            problems.append(f"{where}: missing {sorted(missing)}")
            continue
        if row["id"] in seen:
            problems.append(f"{where}: duplicate id {row['id']!r}")
        seen.add(row["id"])
        if not isinstance(row["question"], str) or not row["question"].strip():
            problems.append(f"{where}: empty question")
        if not isinstance(row["answers"], list) or not all(isinstance(a, str) and a for a in row["answers"]):
            problems.append(f"{where}: answers must be a list of non-empty strings")
            continue
        if row["kind"] not in KINDS:
            problems.append(f"{where}: kind {row['kind']!r} not one of {sorted(KINDS)}")
        if row["answers"] and row["kind"] == "unanswerable":
            problems.append(f"{where}: an answerable question has kind 'unanswerable'")
        if not row["answers"] and row["kind"] != "unanswerable":
            problems.append(f"{where}: a question without answers should have kind 'unanswerable'")
        if not isinstance(row["paraphrase"], bool):
            problems.append(f"{where}: paraphrase must be true or false")
        text = docs.get(row["doc"])
        if text is None:
            problems.append(f"{where}: doc {row['doc']!r} is not in corpus/")
            continue
        for answer in row["answers"]:
            if answer not in text:
                problems.append(f"{where}: answer {answer!r} does not occur verbatim in {row['doc']}")
        if row["answers"] and len(row["answers"]) != len(set(row["answers"])):
            problems.append(f"{where}: repeated answer string")
        flag, share = computed_paraphrase(row, text)
        if flag != row["paraphrase"]:
            flag_mismatches.append(f"{row['id']}: stored {row['paraphrase']}, overlap {share:.2f}")
        kinds[row["kind"]] += 1
        per_doc[row["doc"]] += 1
        answerable += bool(row["answers"])
        unanswerable += not row["answers"]
        paraphrased += row["paraphrase"]

    unused = sorted(set(docs) - set(per_doc))
    if unused:
        problems.append(f"articles without questions: {unused}")
    for mismatch in flag_mismatches:
        problems.append(f"paraphrase flag differs from the overlap rule: {mismatch}")

    print(f"articles: {len(docs)}")
    print(f"questions: {answerable + unanswerable} ({answerable} answerable, {unanswerable} unanswerable)")
    print(f"paraphrase: {paraphrased}")
    print("by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    print("by doc: " + ", ".join(f"{d[:10]} {v}" for d, v in sorted(per_doc.items())))
    for problem in problems:
        print("PROBLEM: " + problem)
    print("OK" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
