"""Saved index: round trip, atomic writes, embedding cache, stale/mismatched/corrupt detection."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from embeddings.encoder import HashingEncoder
from embeddings.errors import IndexCorruptError, IndexMismatchError, IndexNotBuiltError, StaleIndexError
from embeddings.index import build_index, load_index
from embeddings.retrieval import CorpusRetriever
from tests.conftest import ARTICLE_NO_DATE


def _load(index_dir, encoder, corpus=None):
    return load_index(index_dir, encoder_id=encoder.encoder_id, dimension=encoder.dimension, corpus_dir=corpus)


def test_folder_is_self_describing(small_index, fake_encoder):
    _corpus, index_dir = small_index
    assert {p.name for p in index_dir.iterdir()} == {
        "index.faiss",
        "vectors.npy",
        "chunks.jsonl",
        "documents.jsonl",
        "manifest.json",
    }
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert manifest["encoder_id"] == fake_encoder.encoder_id
    assert manifest["dimension"] == fake_encoder.dimension
    assert manifest["metric"] == "inner_product" and manifest["normalized"] is True
    assert manifest["corpus_fingerprint"] and manifest["built_at"] and "faiss" in manifest["versions"]


def test_save_load_gives_the_same_results(small_index, fake_encoder, tmp_path):
    corpus, index_dir = small_index
    loaded = _load(index_dir, fake_encoder, corpus)
    from embeddings.index import index_from_documents

    in_memory = index_from_documents(list(loaded.documents.values()), encoder=fake_encoder)
    for mode in ("dense", "bm25", "hybrid"):
        for question in ("How many missiles were delivered?", "Who travelled to Washington?"):
            a = CorpusRetriever(loaded, fake_encoder).retrieve(question, 3, mode=mode)
            b = CorpusRetriever(in_memory, fake_encoder).retrieve(question, 3, mode=mode)
            assert [(r.chunk.chunk_id, round(r.score, 5)) for r in a] == [
                (r.chunk.chunk_id, round(r.score, 5)) for r in b
            ]


def test_missing_index_is_a_typed_error_with_the_fix(tmp_path, fake_encoder):
    with pytest.raises(IndexNotBuiltError, match="qa index"):
        _load(tmp_path / "nowhere", fake_encoder)


def test_crash_during_save_leaves_previous_index_readable(small_index, fake_encoder, tmp_path):
    corpus, index_dir = small_index
    before = [c.chunk_id for c in _load(index_dir, fake_encoder).chunks]
    (corpus / "new.txt").write_text("A new article\n\n" + " ".join(["Fresh text about drones."] * 10), encoding="utf-8")

    def crash(_temporary):
        raise KeyboardInterrupt("simulated crash before the swap")

    with pytest.raises(KeyboardInterrupt):
        build_index(corpus, index_dir, encoder=fake_encoder, after_write=crash)
    assert [c.chunk_id for c in _load(index_dir, fake_encoder).chunks] == before
    assert not list(tmp_path.glob(".index.tmp-*"))


def test_loading_during_a_build_in_the_same_process_leaves_its_folder_alone(small_index, fake_encoder):
    # A server loads its index while its watcher thread builds the next one: the load's clean-up of stale
    # temporary folders must not delete the one being written (it once did, and the build failed).
    corpus, index_dir = small_index
    (corpus / "new.txt").write_text("A new article\n\n" + " ".join(["Fresh text about drones."] * 10), encoding="utf-8")
    seen = []

    def load_meanwhile(temporary):
        seen.append(temporary.exists())
        _load(index_dir, fake_encoder)  # the old index, read while the new one is being written
        seen.append(temporary.exists())

    build_index(corpus, index_dir, encoder=fake_encoder, after_write=load_meanwhile)
    assert seen == [True, True]
    assert "new.txt" in _load(index_dir, fake_encoder).documents
    # A folder of this process that no build is writing is stale (a pid reused after a crash): removed.
    stale = index_dir.with_name(f".{index_dir.name}.tmp-{os.getpid()}-deadbeef")
    stale.mkdir()
    _load(index_dir, fake_encoder)
    assert not stale.exists()


def test_interrupted_swap_is_recovered(small_index, fake_encoder):
    _corpus, index_dir = small_index
    backup = index_dir.with_name(".index.old")
    index_dir.rename(backup)  # as if killed between the two renames of a swap
    assert len(_load(index_dir, fake_encoder).chunks) > 0
    assert not backup.exists()


def test_stale_corpus_is_reported_with_the_rebuild_command(small_index, fake_encoder):
    corpus, index_dir = small_index
    (corpus / "talks.md").write_text(
        ARTICLE_NO_DATE + "\nA new closing paragraph about oil revenues and exports.\n", encoding="utf-8"
    )
    with pytest.raises(StaleIndexError, match="qa index"):
        _load(index_dir, fake_encoder, corpus)


def test_other_encoder_or_dimension_is_refused(small_index):
    _corpus, index_dir = small_index
    with pytest.raises(IndexMismatchError, match="encoder"):
        _load(index_dir, HashingEncoder(encoder_id="another/model"))
    with pytest.raises(IndexMismatchError, match="dimension"):
        _load(index_dir, HashingEncoder(dimension=32))


def test_adding_one_file_embeds_only_its_chunks(small_index, tmp_path):
    corpus, index_dir = small_index

    class CountingEncoder(HashingEncoder):
        embedded = 0

        def encode_documents(self, texts, *, show_progress=None):
            CountingEncoder.embedded += len(texts)
            return super().encode_documents(texts)

    encoder = CountingEncoder()
    report = build_index(corpus, index_dir, encoder=encoder)
    assert report.embedded == 0 and CountingEncoder.embedded == 0
    (corpus / "new.txt").write_text("A new article\n\n" + " ".join(["Fresh text about drones."] * 10), encoding="utf-8")
    report = build_index(corpus, index_dir, encoder=encoder)
    assert report.embedded == 1 == CountingEncoder.embedded
    assert report.reused == report.manifest.chunk_count - 1


@pytest.mark.parametrize(
    "damage", ["truncate_faiss", "drop_chunk_row", "edit_chunk_text", "bad_manifest", "truncate_vectors"]
)
def test_corrupt_index_is_a_typed_error_never_a_wrong_answer(small_index, fake_encoder, damage):
    _corpus, index_dir = small_index
    if damage == "truncate_faiss":
        data = (index_dir / "index.faiss").read_bytes()
        (index_dir / "index.faiss").write_bytes(data[: len(data) // 2])
    elif damage == "drop_chunk_row":
        lines = (index_dir / "chunks.jsonl").read_text().splitlines()
        (index_dir / "chunks.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    elif damage == "edit_chunk_text":
        lines = (index_dir / "chunks.jsonl").read_text().splitlines()
        row = json.loads(lines[0])
        row["text"] = row["text"].replace("a", "o")
        (index_dir / "chunks.jsonl").write_text("\n".join([json.dumps(row), *lines[1:]]) + "\n")
    elif damage == "bad_manifest":
        (index_dir / "manifest.json").write_text("{not json")
    elif damage == "truncate_vectors":
        data = (index_dir / "vectors.npy").read_bytes()
        (index_dir / "vectors.npy").write_bytes(data[:100])
    with pytest.raises(IndexCorruptError, match="qa index"):
        _load(index_dir, fake_encoder)


def test_hnsw_index_builds_and_finds_the_same_best_chunk(small_corpus, tmp_path, fake_encoder):
    build_index(small_corpus, tmp_path / "flat", encoder=fake_encoder)
    build_index(small_corpus, tmp_path / "hnsw", encoder=fake_encoder, index_type="hnsw")
    flat, hnsw = _load(tmp_path / "flat", fake_encoder), _load(tmp_path / "hnsw", fake_encoder)
    question = "How many missiles were delivered in July?"
    best_flat = CorpusRetriever(flat, fake_encoder).retrieve(question, 1, mode="dense")[0].chunk.chunk_id
    best_hnsw = CorpusRetriever(hnsw, fake_encoder).retrieve(question, 1, mode="dense")[0].chunk.chunk_id
    assert best_flat == best_hnsw
    assert np.allclose(flat.vectors, hnsw.vectors)


def test_no_pickle_anywhere(small_index):
    _, index_dir = small_index
    np.load(index_dir / "vectors.npy", allow_pickle=False)
    for path in index_dir.iterdir():
        assert not path.read_bytes().startswith(b"\x80")  # pickle protocol header


def test_corpus_without_documents_is_an_error(tmp_path, fake_encoder):
    (tmp_path / "c").mkdir()
    with pytest.raises(ValueError, match="no readable"):
        build_index(tmp_path / "c", tmp_path / "i", encoder=fake_encoder)
    shutil.rmtree(tmp_path / "c")
    with pytest.raises(FileNotFoundError):
        build_index(tmp_path / "c", tmp_path / "i", encoder=fake_encoder)


def test_replace_folder_swaps_whole_folders_and_restores_a_crashed_swap(tmp_path):
    from embeddings.index import replace_folder

    target, new = tmp_path / "graph", tmp_path / "staging"
    target.mkdir()
    (target / "f").write_text("old")
    new.mkdir()
    (new / "f").write_text("new")
    replace_folder(new, target)
    assert (target / "f").read_text() == "new" and not new.exists()
    assert not (tmp_path / ".graph.old").exists()
    # A crash after the old folder moved aside and before the new one moved in: the backup comes back first.
    os.replace(target, tmp_path / ".graph.old")
    again = tmp_path / "again"
    again.mkdir()
    (again / "f").write_text("newest")
    replace_folder(again, target)
    assert (target / "f").read_text() == "newest" and not (tmp_path / ".graph.old").exists()


def test_index_type_follows_corpus_size():
    from embeddings.index import APPROXIMATE_FROM, choose_index_type

    assert choose_index_type(10) == "flat"
    assert choose_index_type(APPROXIMATE_FROM - 1) == "flat"
    assert choose_index_type(APPROXIMATE_FROM) == "hnsw"


@pytest.mark.parametrize("index_type", ["hnsw", "ivfpq"])
def test_approximate_indexes_find_planted_neighbours_and_survive_a_round_trip(index_type, tmp_path, monkeypatch):
    import faiss
    import numpy as np

    from embeddings import index as index_module
    from embeddings.index import _make_faiss_index, _tune

    monkeypatch.setattr(index_module, "IVFPQ_MIN_PASSAGES", 5_000)  # a smaller corpus keeps the test quick
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(5_000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    targets = rng.choice(len(vectors), 200, replace=False)
    queries = vectors[targets] + rng.normal(0, 0.02, (200, 64)).astype(np.float32)
    index = _make_faiss_index(vectors, index_type)
    _, found = index.search(queries, 5)
    assert np.mean(found[:, 0] == targets) >= 0.95
    faiss.write_index(index, str(tmp_path / "i.faiss"))
    loaded = _tune(faiss.read_index(str(tmp_path / "i.faiss")), index_type)
    assert np.array_equal(loaded.search(queries, 5)[1], found)


def test_ivfpq_refuses_a_corpus_too_small_to_train_on():
    import numpy as np

    from embeddings.index import _make_faiss_index

    with pytest.raises(ValueError, match="needs at least"):
        _make_faiss_index(np.ones((100, 64), dtype=np.float32), "ivfpq")
