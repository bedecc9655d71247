"""Embedding with a local Ray Data actor pool gives the encoder's own vectors, in input order."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ray", reason='the Ray engine needs the scale extra: pip install -e ".[scale]"')
pytestmark = pytest.mark.slow


def test_ray_pool_gives_the_same_vectors_in_order():
    from embeddings.encoder import SentenceTransformerEncoder
    from embeddings.ray_engine import ray_embedder

    rng = np.random.default_rng(3)
    words = "missiles Baghdad oil troops Mosul deal Kurdish army border talks".split()
    texts = [" ".join(rng.choice(words, size=int(rng.integers(3, 60)))) for _ in range(700)]
    vectors = ray_embedder(actors=2)(texts)
    expected = SentenceTransformerEncoder().encode_documents(texts)
    assert vectors.shape == expected.shape
    assert float(np.abs(vectors - expected).max()) < 1e-5
