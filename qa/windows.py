"""Answer building, step 1: the windows of text the reader reads for a question's retrieved chunks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from embeddings.chunking import sentence_spans
from embeddings.index import CorpusIndex
from embeddings.retrieval import ScoredChunk

# How much of the paragraph before a retrieved one is read with it: its last sentence, the one that names
# what "the deal" or "he" refers to. The whole paragraph costs a third more tokens per window.
CONTEXT_SENTENCES = 1


@dataclass(frozen=True, kw_only=True)
class ReadingWindow:
    """Consecutive chunks ``first``..``last`` (chunk indexes) of one document, read as one passage.

    ``start`` and ``end`` are the window's character offsets in the cleaned document text (``start`` may
    lie inside chunk ``first`` when only its last sentences are read as context); ``retrieval`` is the
    best-ranked retrieved chunk inside the window (its score goes into the citation).
    """

    doc_id: str
    first: int
    last: int
    start: int
    end: int
    retrieval: ScoredChunk


def reading_windows(
    retrieved: Sequence[ScoredChunk], index: CorpusIndex, *, with_previous: bool
) -> list[ReadingWindow]:
    """Group retrieved chunks into the windows to read, documents in order of their best retrieved chunk.

    With ``with_previous`` each chunk is read together with the last ``CONTEXT_SENTENCES`` of the paragraph
    before it (news paragraphs lean on their predecessor: "the deal"); ranges of one document that overlap
    or touch are read once, a retrieved paragraph always whole.
    """
    ranges: dict[str, list[tuple[int, int, ScoredChunk]]] = {}
    for result in retrieved:
        chunk = result.chunk
        first = max(0, chunk.index - 1) if with_previous else chunk.index
        ranges.setdefault(chunk.doc_id, []).append((first, chunk.index, result))
    windows: list[ReadingWindow] = []
    for doc_id, spans in ranges.items():
        spans.sort(key=lambda span: span[0])
        merged = [spans[0]]
        for first, last, result in spans[1:]:
            merged_first, merged_last, merged_result = merged[-1]
            if first <= merged_last + 1:
                best = result if result.rank < merged_result.rank else merged_result
                merged[-1] = (merged_first, max(merged_last, last), best)
            else:
                merged.append((first, last, result))
        chunks = index.chunks_of(doc_id)
        retrieved_here = {span[2].chunk.index for span in spans}
        for first, last, result in merged:
            start = chunks[first].start
            sentences = sentence_spans(chunks[first].text)
            if first not in retrieved_here and sentences:  # context only: its last sentences
                start += sentences[max(0, len(sentences) - CONTEXT_SENTENCES)][0]
            windows.append(
                ReadingWindow(
                    doc_id=doc_id, first=first, last=last, start=start, end=chunks[last].end, retrieval=result
                )
            )
    return windows
