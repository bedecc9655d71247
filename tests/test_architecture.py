"""The layers import one way: corpus -> embeddings -> qa -> (app | eval | cli), with training and bench
as consumers on the side. A module that imports against that flow fails here, naming file and line."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

# What each top-level part of the project may never import (its own layer and those below it are fine).
FORBIDDEN: dict[str, frozenset[str]] = {
    "embeddings": frozenset({"qa", "app", "guard", "eval", "cli", "training", "bench", "tests"}),
    "qa": frozenset({"app", "guard", "eval", "cli", "training", "bench", "tests"}),
    "eval": frozenset({"app", "guard", "cli", "training", "bench", "tests"}),
    # The served app's sign-in layer: the page (app) stands on it, never the other way round.
    "guard": frozenset({"app", "cli", "eval", "training", "bench", "tests"}),
    "app": frozenset({"cli", "eval", "training", "bench", "tests"}),
    "cli": frozenset({"training", "bench", "tests"}),
    "training": frozenset({"app", "guard", "eval", "cli", "bench", "tests"}),
}


def imported_roots(source: str) -> list[tuple[str, int]]:
    """Every (top-level module name, line) that ``source`` imports, including imports inside functions."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name.split(".")[0], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module.split(".")[0], node.lineno))
    return found


def violations(root: Path, layer: str) -> list[str]:
    """``path:line imports name`` for every import of ``layer``'s modules that ``FORBIDDEN`` rules out."""
    paths = [root / f"{layer}.py"] if (root / f"{layer}.py").is_file() else sorted((root / layer).rglob("*.py"))
    return [
        f"{path.relative_to(root)}:{line} imports {name}"
        for path in paths
        for name, line in imported_roots(path.read_text(encoding="utf-8"))
        if name in FORBIDDEN[layer]
    ]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_module_imports_against_the_flow(layer):
    assert violations(PROJECT_ROOT, layer) == []


def test_the_check_catches_an_upward_import(tmp_path):
    package = tmp_path / "qa"
    package.mkdir()
    (package / "ok.py").write_text("import numpy\nfrom embeddings.index import load_index\n")
    (package / "bad.py").write_text('"""Doc."""\n\n\ndef f():\n    from app import serve\n    import eval.run\n')
    assert violations(tmp_path, "qa") == ["qa/bad.py:5 imports app", "qa/bad.py:6 imports eval"]


def test_training_stays_out_of_the_installed_package():
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    assert not any(p == "training" or p.startswith(("training.", "qa.training")) for p in setuptools["packages"])
    assert config["project"]["scripts"]["qa"] == "cli:main"
    assert not (PROJECT_ROOT / "qa" / "training").exists()
