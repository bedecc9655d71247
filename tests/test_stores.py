"""The same retrieval contract over both index stores: the FAISS folder and Milvus (Lite, embedded).

Dense, BM25 and hybrid retrieval return the same chunks in the same order from both; the Milvus store checks
its manifest as the folder does; a rebuild reuses vectors and switches builds whole."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("pymilvus", reason='the Milvus store needs the scale extra: pip install -e ".[scale]"')

from embeddings.errors import IndexMismatchError, IndexNotBuiltError, StaleIndexError
from embeddings.index import build_index, load_index
from embeddings.milvus_store import _client, _read_current, build_milvus_index, load_milvus_index
from embeddings.retrieval import MODES, CorpusRetriever
from tests.conftest import CORPUS_DIR

QUESTIONS = [
    "How many Hellfire missiles were sold to Iraq?",
    "Who is the Pentagon press secretary?",
    "When did ISIS capture Mosul?",
    "What did Senator Corker say about the Maliki meeting?",
    "oil revenues exports Kurdish region",
    "the",  # only a stop word: nothing for BM25
]


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """(FAISS index, Milvus index, Milvus URI, corpus) over a copy of the five articles, hashing encoder."""
    from embeddings.encoder import HashingEncoder

    root = tmp_path_factory.mktemp("stores")
    corpus = root / "corpus"
    shutil.copytree(CORPUS_DIR, corpus)
    encoder = HashingEncoder()
    build_index(corpus, root / "index", encoder=encoder)
    uri = str(root / "milvus" / "qa.db")
    build_milvus_index(corpus, uri, encoder=encoder)
    faiss_index = load_index(root / "index", encoder_id=encoder.encoder_id, dimension=encoder.dimension)
    milvus_index = load_milvus_index(uri, encoder_id=encoder.encoder_id, dimension=encoder.dimension, corpus_dir=corpus)
    return faiss_index, milvus_index, uri, corpus, encoder


def test_both_stores_hold_the_same_documents_and_chunks(stores):
    faiss_index, milvus_index, *_ = stores
    assert milvus_index.chunks == faiss_index.chunks
    assert milvus_index.documents == faiss_index.documents
    assert milvus_index.manifest.corpus_fingerprint == faiss_index.manifest.corpus_fingerprint


@pytest.mark.parametrize("mode", MODES)
def test_retrieval_is_the_same_over_both_stores(stores, mode):
    faiss_index, milvus_index, _, _, encoder = stores
    over_faiss, over_milvus = CorpusRetriever(faiss_index, encoder), CorpusRetriever(milvus_index, encoder)
    for question in QUESTIONS:
        expected = [r.chunk.chunk_id for r in over_faiss.retrieve(question, 8, mode=mode)]
        found = [r.chunk.chunk_id for r in over_milvus.retrieve(question, 8, mode=mode)]
        assert found == expected, (mode, question)


def test_milvus_refuses_another_encoder_and_a_changed_corpus(stores):
    _, _, uri, corpus, encoder = stores
    with pytest.raises(IndexMismatchError, match="qa index --store milvus"):
        load_milvus_index(uri, encoder_id="other/model", dimension=encoder.dimension)
    (corpus / "new.txt").write_text("A new article\n\nWith one paragraph of news about oil.", encoding="utf-8")
    try:
        with pytest.raises(StaleIndexError, match="changed since"):
            load_milvus_index(uri, encoder_id=encoder.encoder_id, dimension=encoder.dimension, corpus_dir=corpus)
    finally:
        (corpus / "new.txt").unlink()


def test_no_index_in_milvus_says_how_to_build_one(tmp_path):
    with pytest.raises(IndexNotBuiltError, match="qa index --store milvus"):
        load_milvus_index(str(tmp_path / "empty.db"), encoder_id="x", dimension=4)


def _build_of(uri: str) -> str:
    current = _read_current(_client(uri), "qa")
    assert current is not None
    return current["build"]


def test_a_rebuild_reuses_vectors_and_replaces_the_build_whole(tmp_path):
    from embeddings.encoder import HashingEncoder

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS_DIR, corpus)
    uri = str(tmp_path / "m.db")
    encoder = HashingEncoder()
    first = build_milvus_index(corpus, uri, encoder=encoder)
    old_build = _build_of(uri)
    (corpus / "new.txt").write_text("Basra refinery\n\nThe Basra refinery produced 210,000 barrels a day.", "utf-8")
    second = build_milvus_index(corpus, uri, encoder=encoder)
    assert second.reused == first.manifest.chunk_count and second.embedded == 1
    new_build = _build_of(uri)
    assert new_build != old_build
    names = set(_client(uri).list_collections())
    assert f"qa_chunks_{new_build}" in names and f"qa_chunks_{old_build}" not in names
    index = load_milvus_index(uri, encoder_id=encoder.encoder_id, dimension=encoder.dimension, corpus_dir=corpus)
    assert "new.txt" in index.documents


@pytest.mark.slow
def test_answers_over_the_five_articles_are_the_same_on_both_stores(real_answerer, tmp_path):
    """The real encoder and readers over Milvus Lite answer every gold question as over the FAISS folder."""
    from embeddings.encoder import SentenceTransformerEncoder
    from eval.gold import load_gold
    from qa.pipeline import QuestionAnswerer
    from tests.conftest import PROJECT_ROOT

    uri = str(tmp_path / "qa.db")
    build_milvus_index(CORPUS_DIR, uri, encoder=SentenceTransformerEncoder())
    over_milvus = QuestionAnswerer(
        corpus_dir=CORPUS_DIR,
        store="milvus",
        milvus_uri=uri,
        encoder=real_answerer.encoder,
        reader=real_answerer.reader,
        rereader=real_answerer.rereader,
    ).load()
    questions = [gold.question for gold in load_gold(PROJECT_ROOT / "eval" / "gold.jsonl")][::3]
    for question in questions:
        expected, found = real_answerer.answer(question), over_milvus.answer(question)
        assert (found.text, found.score, found.citations) == (expected.text, expected.score, expected.citations)
        assert [p.chunk_id for p in found.passages] == [p.chunk_id for p in expected.passages]
