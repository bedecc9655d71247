"""The corpus watcher behind the live index of `qa serve` (hashing encoder, no model)."""

from __future__ import annotations

import time

from embeddings.errors import IndexLoadError
from embeddings.index import build_index, load_index
from embeddings.watch import UPDATE_ATTEMPTS, CorpusWatcher
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


def test_a_passing_failure_is_tried_again_and_a_lasting_one_is_not(small_index, fake_encoder):
    corpus, index_dir = small_index
    calls = []

    def flaky_build():
        calls.append(True)
        if len(calls) == 1:
            raise OSError("a file vanished mid-build")
        return build_index(corpus, index_dir, encoder=fake_encoder)

    watcher = CorpusWatcher(corpus, index_dir, encoder=fake_encoder, build=flaky_build)
    (corpus / "drivers.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    assert not watcher.check_once() and "failed" in watcher.status
    assert watcher.check_once()  # the next poll tries the same change again, and it goes through
    assert "drivers.txt" in _documents(index_dir, fake_encoder) and watcher.status.startswith("Last update")

    def broken_build():
        calls.append(True)
        raise OSError("disk full")

    watcher = CorpusWatcher(corpus, index_dir, encoder=fake_encoder, build=broken_build)
    (corpus / "more.txt").write_text(NEW_ARTICLE.replace("drivers", "pilots"), encoding="utf-8")
    before = len(calls)
    results = [watcher.check_once() for _ in range(UPDATE_ATTEMPTS + 3)]
    assert not any(results) and len(calls) - before == UPDATE_ATTEMPTS  # then it waits for the next change


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
