"""Hostile input: fuzzed questions, messy corpus folders, kill -9 during indexing, corrupt indexes."""

from __future__ import annotations

import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import qa
from embeddings.corpus import load_corpus
from embeddings.encoder import HashingEncoder
from embeddings.index import build_index, load_index
from embeddings.retrieval import CorpusRetriever
from tests.conftest import ARTICLE_MISSILES, PROJECT_ROOT

FRAGMENTS = [
    "How many Hellfire missiles",
    "were sold to Iraq?",
    "Who",
    "When did ISIS capture Mosul",
    "Maliki",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "'; DROP TABLE chunks; --",
    "$(rm -rf /)",
    "`cat /etc/passwd`",
    "../../etc/passwd",
    "%s%s%n",
    "{{7*7}}",
    "\x00",
    "\x1b[31m",
    "\u202e",
    "\ufeff",
    "\ud800",
    "\udfff",
    "😀🔥🇮🇶",
    "مرحبا بالعالم",
    "中文问题是什么",
    "Привет",
    "ñandú",
    "\t\n\r",
    "   ",
    "?" * 50,
    "null",
    "None",
    "NaN",
    "-1",
    "9" * 400,
    "ZALGO Ź̷̧͉̈a̸̧̓l̶̰̈́g̵̢̉o̶̦͝",
]


def fuzzed_questions(count: int, seed: int = 7) -> list:
    """A seeded mix of empty, huge, control-character, mixed-script, markup and injection strings."""
    rng = random.Random(seed)
    questions = ["", " ", "\n" * 5, "x" * 10_000, "a" * 1000, "a" * 1001, "\ud800" * 3, "Iraq" * 300]
    while len(questions) < count:
        parts = rng.choices(FRAGMENTS, k=rng.randint(1, 6))
        text = " ".join(parts)
        if rng.random() < 0.2:
            text = "".join(chr(rng.randint(1, 0x2FFF)) for _ in range(rng.randint(1, 80)))
        if rng.random() < 0.05:
            text = text * rng.randint(50, 400)
        questions.append(text)
    return questions


@pytest.mark.slow
def test_thousand_fuzzed_questions_give_answers_or_typed_errors(real_answerer):
    outcomes = {"answer": 0, "abstain": 0, "typed_error": 0}
    errors: dict[int, Exception] = {}
    for index, question in enumerate(fuzzed_questions(1000)):
        try:
            # Most run with one passage to keep the suite fast; every 25th with the default five.
            result = real_answerer.answer(question, top_k=None if index % 25 == 0 else 1)
        except qa.USER_ERRORS as error:
            errors[index] = error
            outcomes["typed_error"] += 1
            continue
        assert isinstance(result, qa.Answer) and 0.0 <= result.score <= 1.0
        if result.text is None:
            outcomes["abstain"] += 1
        else:
            citation = result.citations[0]
            assert citation.passage[citation.start : citation.end].strip() == result.text
            outcomes["answer"] += 1
    assert sum(outcomes.values()) == 1000
    assert all(str(error) for error in errors.values())
    # The fixed head of the list: "", " ", five newlines, 10,000 "x", 1,000 "a" (at the limit), 1,001 "a",
    # three lone surrogates, "Iraq" 300 times.
    assert [type(errors.get(i)) for i in range(8)] == [
        qa.EmptyQuestionError,
        qa.EmptyQuestionError,
        qa.EmptyQuestionError,
        qa.QuestionTooLongError,
        type(None),
        qa.QuestionTooLongError,
        qa.EmptyQuestionError,
        qa.QuestionTooLongError,
    ]
    assert outcomes["answer"] + outcomes["abstain"] > 0
    print("fuzz outcomes:", outcomes)


def test_hostile_corpus_folder(tmp_path, caplog):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(ARTICLE_MISSILES, encoding="utf-8")
    (corpus / "Ünïcode name with spaces ☃.md").write_text(
        "Snow report\n\nHeavy snow fell on Erbil in January.", encoding="utf-8"
    )
    (corpus / "latin1.txt").write_bytes("R\xe9sum\xe9\n\nCaf\xe9 cr\xe8me.".encode("latin-1"))
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 40)
    with open(corpus / "huge.txt", "wb") as handle:
        handle.write(b"Big\n\n" + b"word " * (20 * 1024 * 1024 // 5))
    outside = tmp_path / "secret.txt"
    outside.write_text("Secret\n\nThe password is swordfish and must never be indexed.", encoding="utf-8")
    (corpus / "link.txt").symlink_to(outside)
    (tmp_path / "outside_dir").mkdir()
    (tmp_path / "outside_dir" / "x.txt").write_text("Outside\n\nAnother secret text about swordfish.", encoding="utf-8")
    (corpus / "linked_dir").symlink_to(tmp_path / "outside_dir", target_is_directory=True)
    with caplog.at_level(logging.WARNING):
        report = build_index(corpus, tmp_path / "index", encoder=HashingEncoder())
    indexed = {d.doc_id for d in load_corpus(corpus)[0]}
    assert indexed == {"good.txt", "Ünïcode name with spaces ☃.md"}
    assert report.manifest.document_count == 2
    skipped = {os.path.basename(s.path) for s in report.skipped}
    assert {"latin1.txt", "empty.txt", "binary.txt", "huge.txt", "link.txt"} <= skipped
    for name in skipped:
        assert name in caplog.text
    index = load_index(tmp_path / "index", encoder_id="test/hashing-bow", dimension=64)
    assert not any("swordfish" in c.text for c in index.chunks)


KILL_SCRIPT = textwrap.dedent("""
    import sys
    from embeddings.encoder import HashingEncoder
    from embeddings.index import build_index
    build_index(sys.argv[1], sys.argv[2], encoder=HashingEncoder())
""")


@pytest.mark.slow
def test_kill_9_during_indexing_never_breaks_the_previous_index(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(150):
        body = " ".join(f"Paragraph {p} of article {i} reports {i * p} missiles and {p} drones." for p in range(40))
        (corpus / f"a{i:03d}.txt").write_text(f"Article {i}\n\n" + body.replace(". ", ".\n\n"), encoding="utf-8")
    index_dir = tmp_path / "index"
    encoder = HashingEncoder()
    build_index(corpus, index_dir, encoder=encoder)
    question = "How many drones in article 7?"

    def snapshot(folder=index_dir):
        index = load_index(folder, encoder_id=encoder.encoder_id, dimension=encoder.dimension)
        return [r.chunk.chunk_id for r in CorpusRetriever(index, encoder).retrieve(question, 5, mode="hybrid")], len(
            index.chunks
        )

    before = snapshot()
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    started = time.monotonic()
    process = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, str(corpus), str(tmp_path / "probe")], env=env, timeout=300
    )
    full_run = time.monotonic() - started
    assert process.returncode == 0
    # A change to the corpus makes every build write a new index: kill it at 10 moments across its run.
    (corpus / "new.txt").write_text(
        "New article\n\nA new article about helicopters and fighter jets.", encoding="utf-8"
    )
    build_index(corpus, tmp_path / "reference", encoder=encoder)
    after = snapshot(tmp_path / "reference")
    pristine = tmp_path / "pristine"
    shutil.copytree(index_dir, pristine)
    killed_mid_write, scale = 0, 1.0
    # Aim at 10 moments spread over a build; when the machine got faster (a build finished before its
    # kill), aim earlier from then on, so the kills keep landing whatever the load was when timed.
    for attempt in range(30):
        if killed_mid_write == 10:
            break
        if snapshot() != before:  # the previous attempt finished its swap: start again from the old index
            shutil.rmtree(index_dir)
            shutil.copytree(pristine, index_dir)
        delay = full_run * scale * (0.05 + 0.8 * killed_mid_write / 9)
        child = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(corpus), str(index_dir)], env=env)
        time.sleep(delay)
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            killed_mid_write += 1
        else:
            scale *= 0.6
        child.wait()
        current = snapshot()
        # Killed before the swap: the previous index, untouched. Killed after it (or finished): the new
        # index, whole. Never anything in between.
        assert current in (before, after), f"attempt {attempt}: a torn index after kill -9"
    assert killed_mid_write >= 5
    leftovers = list(tmp_path.glob(".index.tmp-*"))
    build_index(corpus, index_dir, encoder=encoder)  # the next run cleans up what the killed runs left
    assert not list(tmp_path.glob(".index.tmp-*")) and not (tmp_path / ".index.old").exists()
    assert snapshot()[1] == before[1] + 1
    print(f"kills: {killed_mid_write}, leftover temp folders before cleanup: {len(leftovers)}")


def test_corrupt_index_through_answer_is_a_typed_error(small_index, fake_encoder):
    from qa.pipeline import QuestionAnswerer
    from tests.fakes import FakeReader

    corpus, index_dir = small_index
    data = (index_dir / "index.faiss").read_bytes()
    (index_dir / "index.faiss").write_bytes(data[:-64])
    answerer = QuestionAnswerer(index_dir=index_dir, corpus_dir=corpus, encoder=fake_encoder, reader=FakeReader())
    with pytest.raises(qa.IndexCorruptError, match="qa index"):
        answerer.answer("How many missiles?")
