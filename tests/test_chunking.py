"""Chunks: exact offsets, content-hash ids, merging short and splitting long paragraphs."""

from __future__ import annotations

import itertools

from embeddings.chunking import chunk_document, chunk_id_for
from embeddings.corpus import load_corpus
from embeddings.documents import Document, clean_article
from tests.conftest import ARTICLE_MISSILES, CORPUS_DIR


def _document(paragraphs: list[str]) -> Document:
    return Document("d.txt", "T", "\n\n".join(paragraphs))


def test_offsets_reproduce_chunk_text_on_the_real_corpus():
    documents, _ = load_corpus(CORPUS_DIR)
    for document in documents:
        chunks = chunk_document(document)
        assert chunks
        for position, chunk in enumerate(chunks):
            assert document.text[chunk.start : chunk.end] == chunk.text
            assert chunk.index == position and chunk.doc_id == document.doc_id
        assert all(a.end <= b.start for a, b in itertools.pairwise(chunks))


def test_ids_are_content_hashes_stable_across_runs():
    document = clean_article(ARTICLE_MISSILES, doc_id="m.txt")
    first, second = chunk_document(document), chunk_document(document)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in second]
    assert first[0].chunk_id == chunk_id_for("m.txt", first[0].text)
    assert chunk_id_for("other.txt", first[0].text) != first[0].chunk_id
    assert len({c.chunk_id for c in first}) == len(first)


def test_short_paragraph_is_merged_with_its_neighbour():
    long_paragraph = " ".join(["word"] * 40) + "."
    document = _document(["Short one.", long_paragraph, long_paragraph])
    chunks = chunk_document(document, min_words=25)
    assert len(chunks) == 2
    assert chunks[0].text.startswith("Short one.") and chunks[0].text.endswith(long_paragraph)


def test_short_last_paragraph_joins_the_previous_chunk():
    long_paragraph = " ".join(["word"] * 40) + "."
    chunks = chunk_document(_document([long_paragraph, "The end."]), min_words=25)
    assert len(chunks) == 1 and chunks[0].text.endswith("The end.")


def test_long_paragraph_is_split_at_sentence_boundaries():
    sentences = [f"Sentence number {i} has exactly seven words." for i in range(60)]
    document = _document([" ".join(sentences)])
    chunks = chunk_document(document, max_words=100)
    assert len(chunks) >= 4
    for chunk in chunks:
        assert len(chunk.text.split()) <= 100
        assert chunk.text.startswith("Sentence") and chunk.text.endswith(".")
        assert document.text[chunk.start : chunk.end] == chunk.text
