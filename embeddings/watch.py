"""Keep an index in step with its corpus folder while a server runs: poll the folder, rebuild on change.

``CorpusWatcher`` notices added, changed and deleted files by a stat-only signature, rebuilds with
``build_index`` (only changed chunks are embedded; the new folder replaces the old one atomically), then
calls ``on_rebuilt`` so the server swaps the new index in. A failed rebuild leaves the previous index in
use, says why in ``status`` and is tried again at the next polls (``UPDATE_ATTEMPTS`` in all).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from embeddings.corpus import corpus_signature
from embeddings.encoder import Encoder
from embeddings.errors import CorpusError
from embeddings.index import BuildReport, build_index

LOG = logging.getLogger(__name__)
# Tries for one state of the folder: a failure can pass (a file still being copied in), a lasting one is not
# retried every poll; the next change to the folder starts again.
UPDATE_ATTEMPTS = 3


class CorpusWatcher:
    """Polls ``corpus_dir`` every ``interval`` seconds (in a daemon thread once ``start``-ed) and rebuilds
    ``index_dir`` when its files change. The corpus as it is at construction counts as indexed."""

    def __init__(
        self,
        corpus_dir: str | Path,
        index_dir: str | Path,
        *,
        encoder: Encoder,
        interval: float = 2.0,
        on_rebuilt: Callable[[], object] | None = None,
        build: Callable[[], BuildReport] | None = None,
    ) -> None:
        self.corpus_dir = Path(corpus_dir)
        self.index_dir = Path(index_dir)
        self.encoder = encoder
        self.interval = interval
        self.on_rebuilt = on_rebuilt
        # How to rebuild: the index folder by default; another store (Milvus) passes its own build.
        self.build = build or (lambda: build_index(self.corpus_dir, self.index_dir, encoder=self.encoder))
        self.updating = False
        self.last_error: str | None = None
        self.last_update: str | None = None
        self._signature = corpus_signature(self.corpus_dir)
        self._failing: object = None  # the folder state whose update failed, and how many times
        self._attempts = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def status(self) -> str:
        """A few words for the page: whether an update runs, how the last one went."""
        if self.updating:
            return "Updating the index with changed files…"
        if self.last_error:
            return f"The last update failed ({self.last_error}); answers still come from the previous index."
        return f"Last update: {self.last_update}." if self.last_update else ""

    def check_once(self) -> bool:
        """Rebuild if the corpus changed since the last look; True when a new index was written."""
        signature = corpus_signature(self.corpus_dir)
        if signature == self._signature:
            return False
        previous, self._signature = self._signature, signature  # before the build: a change during it triggers another
        self.updating = True
        began = time.perf_counter()
        try:
            report = self.build()
        except (CorpusError, OSError, ValueError) as error:
            self.last_error = str(error)
            self._attempts = self._attempts + 1 if signature == self._failing else 1
            self._failing = signature
            if self._attempts < UPDATE_ATTEMPTS:
                self._signature = previous  # look again at the next poll
            LOG.warning("index update failed (try %d), keeping the previous index: %s", self._attempts, error)
            return False
        finally:
            self.updating = False
        self._failing, self._attempts = None, 0
        self.last_error = None
        self.last_update = (
            f"{report.manifest.document_count} documents, {report.embedded} passages embedded, "
            f"{report.reused} reused, in {time.perf_counter() - began:.1f} s"
        )
        LOG.info("index updated: %s", self.last_update)
        if self.on_rebuilt is not None:
            self.on_rebuilt()
        return True

    def start(self) -> CorpusWatcher:
        """Poll in a daemon thread until ``stop``."""
        self._thread = threading.Thread(target=self._run, name="corpus-watcher", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """Look at the folder now instead of at the next poll (after the page added or removed a file)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop polling (an update in progress finishes first)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.check_once()
            except Exception:  # the watcher must outlive any one bad update
                LOG.exception("index update crashed; the previous index stays in use")
                self.updating = False
