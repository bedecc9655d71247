"""One version, stated in ``pyproject.toml``: ``qa --version`` prints it and the page's footer shows it."""

from __future__ import annotations

import tomllib

import pytest

import app
import cli
from qa.version import version
from tests.conftest import PROJECT_ROOT


def _pyproject_version() -> str:
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def test_the_version_is_the_one_in_pyproject():
    assert version() == _pyproject_version()


def test_qa_version_prints_it(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"qa {_pyproject_version()}"


def test_the_page_footer_shows_it():
    footer = app.page_footer()
    assert _pyproject_version() in footer and footer.startswith("<footer")
