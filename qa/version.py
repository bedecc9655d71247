"""The project's version: the one ``pyproject.toml`` states, which ``qa --version`` prints and the page shows.

In a source checkout (and an editable install) ``pyproject.toml`` is read, so a version raised there shows at
once, without reinstalling; an installed wheel has no ``pyproject.toml`` and answers from its metadata.
"""

from __future__ import annotations

import functools
import tomllib
from importlib import metadata

from qa.defaults import PROJECT_ROOT

DISTRIBUTION = "corpus-qa"


@functools.cache
def version() -> str:
    """The version string (e.g. ``"0.9.0"``); ``"unknown"`` when neither source has one."""
    pyproject = PROJECT_ROOT / "pyproject.toml"
    if pyproject.is_file():
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        if project.get("name") == DISTRIBUTION and isinstance(project.get("version"), str):
            return project["version"]
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"
