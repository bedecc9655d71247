"""Which text is read for the retrieved chunks: the retrieved paragraph whole, with the last sentence of
the paragraph before it as context, overlapping ranges once."""

from __future__ import annotations

from embeddings.chunking import Chunk
from embeddings.retrieval import ScoredChunk
from qa.windows import reading_windows

PARAGRAPHS = [
    "The Pentagon spoke on Monday. It named no buyer.",
    "The State Department approved the sale of 5,000 missiles. Iraq asked for them in May.",
    "The deal is worth $700 million. Congress has 30 days to object.",
    "Unrelated closing words.",
]


class _Index:
    def __init__(self) -> None:
        self.text = "\n\n".join(PARAGRAPHS)
        self.chunks, position = [], 0
        for i, paragraph in enumerate(PARAGRAPHS):
            start = self.text.index(paragraph, position)
            self.chunks.append(Chunk(f"c{i}", "doc", i, start, start + len(paragraph), paragraph))
            position = start + len(paragraph)

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        return self.chunks


def _read(index: _Index, *ranks_by_chunk: int, with_previous: bool = True) -> list[str]:
    retrieved = [ScoredChunk(index.chunks[c], 1.0, rank) for rank, c in enumerate(ranks_by_chunk)]
    return [index.text[w.start : w.end] for w in reading_windows(retrieved, index, with_previous=with_previous)]  # type: ignore[arg-type]


def test_a_retrieved_paragraph_is_read_after_the_last_sentence_before_it():
    index = _Index()
    assert _read(index, 2) == [f"Iraq asked for them in May.\n\n{PARAGRAPHS[2]}"]
    assert _read(index, 0) == [PARAGRAPHS[0]]  # nothing before the first paragraph
    assert _read(index, 2, with_previous=False) == [PARAGRAPHS[2]]


def test_adjacent_retrieved_paragraphs_are_read_whole_in_one_window():
    index = _Index()
    (window,) = _read(index, 2, 1)
    assert window == f"It named no buyer.\n\n{PARAGRAPHS[1]}\n\n{PARAGRAPHS[2]}"
    # Ranges that touch merge: the paragraph between two retrieved ones is read whole as well.
    assert _read(index, 3, 1) == ["It named no buyer.\n\n" + "\n\n".join(PARAGRAPHS[1:])]
