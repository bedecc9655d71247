"""Both build engines keep one contract (``embeddings.engine``): the same documents, skips and chunks in the
same order, and passages embedded in fixed blocks, so a Ray build gives the local build's vectors bit for
bit."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from embeddings.corpus import load_corpus
from embeddings.encoder import HashingEncoder
from embeddings.engine import EMBED_BLOCK, LocalEngine, embedding_blocks
from embeddings.index import prepare_build
from tests.conftest import CORPUS_DIR

WORDS = "missiles Baghdad oil troops Mosul deal Kurdish army border talks pipeline Anbar ministry".split()


def _mixed_corpus(folder, records: int):
    """The five articles, a JSONL export of ``records`` short wire items (one bad line), an undecodable
    file and a PDF that is not one."""
    shutil.copytree(CORPUS_DIR, folder)
    rng = np.random.default_rng(5)
    lines = [
        json.dumps({"id": f"w{i}", "title": f"Wire {i}", "text": " ".join(rng.choice(WORDS, int(rng.integers(5, 80))))})
        for i in range(records)
    ]
    lines.insert(3, "{not json")
    (folder / "wire.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "latin1.txt").write_bytes("Caf\xe9 au lait in Erbil.".encode("latin-1") * 3)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    return folder


class _RecordingEncoder(HashingEncoder):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[str]] = []

    def encode_documents(self, texts, *, show_progress=None):
        self.calls.append(list(texts))
        return super().encode_documents(texts)


def test_local_engine_embeds_in_fixed_blocks_of_like_length():
    encoder = _RecordingEncoder()
    rng = np.random.default_rng(11)
    texts = [" ".join(rng.choice(WORDS, int(rng.integers(1, 40)))) for _ in range(2 * EMBED_BLOCK + 7)]
    vectors = LocalEngine(encoder).embed(texts)
    assert [len(call) for call in encoder.calls] == [EMBED_BLOCK, EMBED_BLOCK, 7]
    assert sorted(text for call in encoder.calls for text in call) == sorted(texts)
    lengths = [len(text) for call in encoder.calls for text in call]
    assert lengths == sorted(lengths, reverse=True)  # longest first, so a block's passages pad little
    assert [len(block) for block in embedding_blocks(texts)] == [EMBED_BLOCK, EMBED_BLOCK, 7]
    np.testing.assert_array_equal(vectors, HashingEncoder().encode_documents(texts))  # rows back in input order


def test_read_groups_cap_files_and_bytes(tmp_path):
    from embeddings import ray_engine

    sizes = [10, 10, ray_engine.READ_BYTES, 10] + [1] * (ray_engine.READ_FILES + 3)
    files = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"f{i:02d}.txt"
        with open(path, "wb") as handle:
            handle.truncate(size)  # sparse: the size is what counts
        files.append(path)
    groups = ray_engine.read_groups(files)
    assert [i for group in groups for i in group] == list(range(len(files)))
    assert groups[:3] == [[0, 1], [2], [3, *range(4, 4 + ray_engine.READ_FILES - 1)]]
    assert all(len(group) <= ray_engine.READ_FILES for group in groups)


def test_a_build_reads_what_load_corpus_reads(tmp_path):
    corpus = _mixed_corpus(tmp_path / "corpus", records=40)
    prepared = prepare_build(corpus, encoder=HashingEncoder(), cache={})
    documents, skipped = load_corpus(corpus)
    assert prepared.documents == documents
    assert prepared.skipped == skipped
    assert {s.path.rsplit("/", 1)[-1] for s in skipped} >= {"latin1.txt", "broken.pdf", "wire.jsonl:4"}
    order = {d.doc_id: i for i, d in enumerate(documents)}
    places = [order[chunk.doc_id] for chunk in prepared.chunks]
    assert places == sorted(places)  # chunks in document order, file by file
    assert len(prepared.vectors) == len(prepared.chunks)


@pytest.mark.slow
def test_ray_build_gives_the_local_build_bit_for_bit(tmp_path):
    """Real encoder, local Ray with 2 actors, more passages than one block: same chunks, same vector bits."""
    pytest.importorskip("ray", reason='the Ray engine needs the scale extra: pip install -e ".[scale]"')
    from embeddings.encoder import SentenceTransformerEncoder
    from embeddings.ray_engine import RayEngine

    corpus = _mixed_corpus(tmp_path / "corpus", records=EMBED_BLOCK)
    encoder = SentenceTransformerEncoder()
    local = prepare_build(corpus, encoder=encoder, cache={})
    pooled = prepare_build(corpus, encoder=encoder, cache={}, engine=RayEngine(encoder, actors=2))
    assert len(local.chunks) > EMBED_BLOCK
    assert pooled.documents == local.documents
    assert pooled.skipped == local.skipped
    assert pooled.chunks == local.chunks
    assert pooled.vectors.shape == local.vectors.shape
    assert np.array_equal(pooled.vectors, local.vectors)
