"""A running `qa serve` notices an article copied into its corpus folder and answers from it, no restart."""

from __future__ import annotations

import json
import shutil
import time
import urllib.parse
import urllib.request

import pytest

from tests.conftest import CORPUS_DIR
from tests.real_system import running_server

pytestmark = pytest.mark.slow

ARTICLE = """Basra refinery back at full output

By A. Reporter
3 March 2014

The Basra oil refinery produced 210,000 barrels a day in February, the oil ministry said on Monday.
"""
QUESTION = "How many barrels a day did the Basra refinery produce?"


def _ask(url: str, index, corpus) -> dict:
    query = urllib.parse.urlencode({"q": QUESTION, "index": str(index), "corpus": str(corpus)})
    with urllib.request.urlopen(f"{url}/api/answer?{query}", timeout=60) as response:
        return json.loads(response.read())


def test_an_article_copied_into_the_corpus_is_answered_within_30_seconds(real_index, tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(CORPUS_DIR, corpus)
    shutil.copytree(real_index, index)  # built from the same files, so not stale
    with running_server(index, corpus_dir=corpus) as url:
        before = _ask(url, index, corpus)
        assert not any(c["doc_id"] == "refinery.txt" for c in before["citations"])
        (corpus / "refinery.txt").write_text(ARTICLE, encoding="utf-8")
        copied = time.monotonic()
        answer = before
        while time.monotonic() - copied < 30:
            answer = _ask(url, index, corpus)  # answered all along, from the old index until the swap
            if answer["citations"] and answer["citations"][0]["doc_id"] == "refinery.txt":
                break
            time.sleep(1)
        assert answer["text"] and "210,000" in answer["text"], answer
        assert answer["citations"][0]["doc_id"] == "refinery.txt"
