"""Answer building, step 4: the citation of an answer and the passages shown beside it."""

from __future__ import annotations

from embeddings.index import CorpusIndex
from embeddings.retrieval import ScoredChunk
from qa.reading import PlacedCandidate
from qa.types import Citation, RetrievedPassage


def cite(candidate: PlacedCandidate, index: CorpusIndex) -> Citation:
    """The citation of a placed candidate: the paragraph (chunk) where the span starts, with the span's
    offsets in it. A span that runs past its paragraph is cited with the text up to where it ends."""
    document = index.documents[candidate.doc_id]
    chunks = index.chunks_of(candidate.doc_id)
    home = next((c for c in chunks if c.start <= candidate.doc_start < c.end), chunks[-1])
    passage_end = max(home.end, candidate.doc_end)
    return Citation(
        doc_id=document.doc_id,
        title=document.title,
        date=document.date,
        passage=document.text[home.start : passage_end],
        start=candidate.doc_start - home.start,
        end=candidate.doc_end - home.start,
        chunk_id=home.chunk_id,
        paragraph=home.index + 1,
        doc_start=home.start,
        author=document.author,
        retrieval_score=candidate.retrieval.score,
        url=document.url,
    )


def retrieved_passage(result: ScoredChunk, index: CorpusIndex) -> RetrievedPassage:
    """A retrieved chunk as shown to the user, with its document's title and date and its scores."""
    document = index.documents[result.chunk.doc_id]
    return RetrievedPassage(
        doc_id=document.doc_id,
        title=document.title,
        date=document.date,
        chunk_id=result.chunk.chunk_id,
        paragraph=result.chunk.index + 1,
        text=result.chunk.text,
        score=result.score,
        rank=result.rank,
        dense_score=result.dense_score,
        bm25_score=result.bm25_score,
        doc_start=result.chunk.start,
        author=document.author,
        url=document.url,
    )
