"""The corpus watcher behind the live index of `qa serve` (hashing encoder, no model)."""

from __future__ import annotations

import time

from embeddings.errors import IndexLoadError
from embeddings.index import load_index
from embeddings.watch import CorpusWatcher
from tests.test_pipeline import NEW_ARTICLE


def _documents(index_dir, encoder):
    try:
        return set(load_index(index_dir, encoder_id=encoder.encoder_id, dimension=encoder.dimension).documents)
    except IndexLoadError:  # caught between the two renames of a swap
        return set()


def test_changed_files_are_indexed_and_the_server_told(small_index, fake_encoder):
    corpus, index_dir = small_index
    told = []
    watcher = CorpusWatcher(corpus, index_dir, encoder=fake_encoder, on_rebuilt=lambda: told.append(True))
    assert not watcher.check_once() and watcher.status == ""  # nothing changed since it started
    (corpus / "drivers.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    assert watcher.check_once() and told == [True]
    assert "drivers.txt" in _documents(index_dir, fake_encoder)
    assert watcher.status.startswith("Last update: 3 documents")
    (corpus / "drivers.txt").unlink()
    assert watcher.check_once() and "drivers.txt" not in _documents(index_dir, fake_encoder)


def test_a_failed_update_keeps_the_previous_index_and_says_why(small_index, fake_encoder):
    corpus, index_dir = small_index
    before = _documents(index_dir, fake_encoder)
    watcher = CorpusWatcher(corpus, index_dir, encoder=fake_encoder)
    for path in list(corpus.iterdir()):
        path.unlink()
    assert not watcher.check_once()
    assert "failed" in watcher.status and "previous index" in watcher.status
    assert _documents(index_dir, fake_encoder) == before


def test_the_thread_polls_until_stopped(small_index, fake_encoder):
    corpus, index_dir = small_index
    watcher = CorpusWatcher(corpus, index_dir, encoder=fake_encoder, interval=0.05).start()
    try:
        (corpus / "drivers.txt").write_text(NEW_ARTICLE, encoding="utf-8")
        deadline = time.monotonic() + 10
        while "drivers.txt" not in _documents(index_dir, fake_encoder) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "drivers.txt" in _documents(index_dir, fake_encoder)
    finally:
        watcher.stop()
