"""The documents a newcomer reads: the README within its limits, every relative link and image in the README,
``docs/``, the changelog and the model cards resolving to a file in the repository (and a ``#section`` to a
heading there), the changelog listing the version in ``pyproject.toml``, and ``make docs``'s table writer."""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import re
import tomllib
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.repository import repository_files

README = PROJECT_ROOT / "README.md"
README_MAX_LINES = 150
README_MAX_WIDTH = 120
DOCUMENTS = sorted(
    [
        README,
        PROJECT_ROOT / "CHANGELOG.md",
        *PROJECT_ROOT.glob("docs/*.md"),
        *PROJECT_ROOT.glob("models/*/MODEL_CARD.md"),
    ]
)

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_INLINE_LINK = re.compile(r"!?\[(?:[^\]\n]|\][^(\n])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s*\[[^\]\n]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
_HTML_SOURCE = re.compile(r"<(?:img|a)\b[^>]*\b(?:src|href)=\"([^\"]+)\"", re.I)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def project_version() -> str:
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def link_targets(markdown: str) -> list[str]:
    """The targets of the Markdown links, images and HTML ``src``/``href`` in ``markdown``, code left out."""
    prose = _CODE_SPAN.sub("", _FENCE.sub("", markdown))
    return [m.group(1) for pattern in (_INLINE_LINK, _REFERENCE, _HTML_SOURCE) for m in pattern.finditer(prose)]


def heading_anchors(markdown: str) -> set[str]:
    """The ``#anchors`` GitHub gives the headings of ``markdown``."""
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", _FENCE.sub("", markdown), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower().replace("`", "")).replace(" ", "-") for h in headings}


def broken_links(document: Path, known: set[str], root: Path = PROJECT_ROOT) -> list[str]:
    """The relative links of ``document`` whose file is not among ``known`` (paths relative to ``root``), or
    whose ``#anchor`` names no heading of a Markdown target."""
    text = document.read_text(encoding="utf-8")
    broken = []
    for target in link_targets(text):
        if _SCHEME.match(target):
            continue  # a web address: not checked offline
        path, _, anchor = target.partition("#")
        path = path.split("?", 1)[0]
        resolved = document if not path else Path(os.path.normpath(document.parent / path))
        try:
            relative = resolved.relative_to(root).as_posix()
        except ValueError:
            broken.append(f"{target} (outside the repository)")
            continue
        if relative not in known and not any(name.startswith(relative + "/") for name in known):
            broken.append(f"{target} (no such file in the repository)")
        elif (
            anchor and resolved.suffix == ".md" and anchor not in heading_anchors(resolved.read_text(encoding="utf-8"))
        ):
            broken.append(f"{target} (no such heading)")
    return broken


def test_the_link_check_catches_missing_files_and_headings(tmp_path):
    assert link_targets("[a](x.md) ![b](img/y.png) `[c](code.md)`\n```\n[d](fenced.md)\n```\n[e]: ref.md\n") == [
        "x.md",
        "img/y.png",
        "ref.md",
    ]
    assert heading_anchors("# Adding documents\n## `qa ask`, the command\n") == {
        "adding-documents",
        "qa-ask-the-command",
    }
    (tmp_path / "docs" / "images").mkdir(parents=True)
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n\n## Adding documents\n")
    (tmp_path / "docs" / "images" / "shot.png").write_bytes(b"png")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "[ok](guide.md#adding-documents) ![ok](images/shot.png) [ok](images) [ok](https://example.org/x.md)\n"
        "[bad](guide.md#nothing) [bad](missing.md) [bad](../../outside.md) [bad](#no-heading-here)\n"
    )
    known = {"docs/guide.md", "docs/page.md", "docs/images/shot.png"}
    assert broken_links(page, known, tmp_path) == [
        "guide.md#nothing (no such heading)",
        "missing.md (no such file in the repository)",
        "../../outside.md (outside the repository)",
        "#no-heading-here (no such heading)",
    ]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(PROJECT_ROOT).as_posix())
def test_every_relative_link_and_image_resolves_to_a_file_in_the_repository(document):
    assert broken_links(document, set(repository_files())) == []


def test_the_readme_is_short_and_narrow():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES
    too_wide = [(number, len(line)) for number, line in enumerate(lines, 1) if len(line) > README_MAX_WIDTH]
    assert too_wide == []


def test_the_readme_shows_a_committed_screenshot_and_links_into_docs():
    text = README.read_text(encoding="utf-8")
    images = [t for t in link_targets(text) if t.endswith(".png")]
    assert images and all((PROJECT_ROOT / image).stat().st_size > 10_000 for image in images)
    for page in ("usage", "architecture", "evaluation", "benchmarks", "training", "scale-out", "team"):
        assert f"docs/{page}.md" in link_targets(text), page


def test_the_changelog_lists_the_current_version_with_a_date_first():
    released = re.findall(
        r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$", (PROJECT_ROOT / "CHANGELOG.md").read_text(), re.M
    )
    assert released and released[0][0] == project_version()
    dates = [datetime.date.fromisoformat(day) for _, day in released]
    assert dates == sorted(dates, reverse=True)  # newest first


def _make_docs():
    spec = importlib.util.spec_from_file_location("make_docs", PROJECT_ROOT / "docs" / "make_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_docs_writes_the_table_between_the_markers_only(tmp_path):
    make_docs = _make_docs()
    for folder, f1 in (("gold", 0.8913), ("gold_hard", 0.5339)):
        (tmp_path / folder).mkdir()
        summary = {"questions": 10, "F1": f1, "HasAns_F1": 0.8, "NoAns_accuracy": 0.9, "confidence_auroc": 0.7}
        (tmp_path / folder / "report.json").write_text(json.dumps({"summary": summary}))
    squad = tmp_path / "squad.json"
    squad.write_text(
        json.dumps(
            {"squad1_dev": {"F1": 81.14}, "squad2_dev": {"F1": 56.0, "HasAns_F1": 73.8, "NoAns_accuracy": 38.25}}
        )
    )
    table = make_docs.scores_table(tmp_path, squad, version="9.9.9", day=datetime.date(2026, 12, 7))
    assert "**0.8913**" in table and "**0.5339**" in table and "9.9.9" in table and "2026-12-07" in table
    assert "1.1 F1 81.1" in table and "2.0 F1 56.0" in table and "abstained 38.3%" in table
    readme = README.read_text(encoding="utf-8")
    rewritten = make_docs.replace_between_markers(readme, table)
    before, after = readme.split(make_docs.START)[0], readme.split(make_docs.END)[1]
    assert rewritten.startswith(before + make_docs.START) and rewritten.endswith(make_docs.END + after)
    assert table in rewritten and make_docs.replace_between_markers(rewritten, table) == rewritten
    with pytest.raises(ValueError, match="markers"):
        make_docs.replace_between_markers("no markers here", table)
