"""The lean query path: the query encoder's ONNX graph gives sentence-transformers' vectors, answering
never imports torch or transformers, and ``qa ask`` answers through a running server when there is one."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from embeddings.encoder import SentenceTransformerEncoder, packaged_minilm_dir
from embeddings.onnx_encoder import MANIFEST_FILE, OnnxQueryGraph, export_query_graph, graph_is_current
from tests.conftest import CORPUS_DIR, PROJECT_ROOT

pytestmark = pytest.mark.slow

QUESTIONS = [json.loads(line)["question"] for line in (PROJECT_ROOT / "eval" / "gold.jsonl").read_text().splitlines()]


def test_exported_query_encoder_gives_the_sentence_transformers_vectors(tmp_path):
    model_dir = packaged_minilm_dir()
    graph_dir = tmp_path / "encoder"
    export_query_graph(model_dir, graph_dir)
    assert graph_is_current(model_dir, graph_dir)
    reference = SentenceTransformerEncoder(query_backend="torch").encode_queries(QUESTIONS)
    onnx = OnnxQueryGraph(graph_dir).encode(QUESTIONS)
    assert onnx.shape == reference.shape and onnx.dtype == np.float32
    assert np.abs(onnx - reference).max() < 1e-4
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(onnx[:3], OnnxQueryGraph(graph_dir).encode(QUESTIONS[:3]))  # batch partners do not matter
    encoder = SentenceTransformerEncoder(graph_dir=graph_dir)
    assert encoder.session is not None and np.array_equal(encoder.encode_queries(QUESTIONS[:2]), onnx[:2])
    # A graph from other weights is not used: "auto" falls back to torch, "onnx" says how to fix it.
    manifest = json.loads((graph_dir / MANIFEST_FILE).read_text())
    manifest["source"]["weights_bytes"] += 1
    (graph_dir / MANIFEST_FILE).write_text(json.dumps(manifest))
    assert not graph_is_current(model_dir, graph_dir)
    assert SentenceTransformerEncoder(graph_dir=graph_dir).session is None
    with pytest.raises(Exception, match="qa index"):
        SentenceTransformerEncoder(graph_dir=graph_dir, query_backend="onnx").encode_queries(["x"])


def _env(real_index, **extra):
    return dict(os.environ, HF_HUB_OFFLINE="1", QA_INDEX=str(real_index), QA_CORPUS=str(CORPUS_DIR), **extra)


def test_answering_a_question_never_imports_torch(real_index):
    """What a ``qa ask`` process loads: the index, ONNX Runtime and tokenizers; never torch or transformers
    (the shipped graph of the query encoder is made by ``qa index``, which ``make test`` runs first)."""
    script = (
        "import json, sys, qa; a = qa.answer('Who is the Turkish foreign minister?'); "
        "print(json.dumps({'text': a.text, 'heavy': sorted(m for m in ('torch', 'transformers', "
        "'sentence_transformers') if m in sys.modules)}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        env=_env(real_index),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "Davutoglu" in result["text"] and result["heavy"] == []


def test_qa_ask_answers_through_a_running_server(real_index):
    from tests.real_system import running_server

    question = "How many US troops were on the ground in Iraq?"
    script = (
        "import sys, cli; status = cli.main(sys.argv[1:]); "
        "print('LOCAL' if 'qa.pipeline' in sys.modules else 'SERVER', file=sys.stderr); sys.exit(status)"
    )

    def ask(*args, **env):
        return subprocess.run(
            [sys.executable, "-c", script, "ask", *args],
            cwd=PROJECT_ROOT,
            env=_env(real_index, **env),
            capture_output=True,
            text=True,
            timeout=300,
        )

    local = ask(question, "--json", QA_SERVER_URL="none")
    assert local.returncode == 0 and local.stderr.strip().endswith("LOCAL"), local.stderr[-2000:]
    with running_server(real_index) as url:
        served = ask(question, "--json", QA_SERVER_URL=url)
        assert served.returncode == 0 and served.stderr.strip().endswith("SERVER"), served.stderr[-2000:]
        assert json.loads(served.stdout) == json.loads(local.stdout)
        refused = ask("   ", QA_SERVER_URL=url)
        assert refused.returncode == 2 and "empty" in refused.stderr and "Traceback" not in refused.stderr
        forced = ask(question, "--json", "--local", QA_SERVER_URL=url)
        assert forced.stderr.strip().endswith("LOCAL") and json.loads(forced.stdout) == json.loads(local.stdout)
        other = ask(question, "--json", "--index", str(real_index.parent / "elsewhere"), QA_SERVER_URL=url)
        assert other.returncode == 2 and "qa index" in other.stderr  # not the server's index: answered here
