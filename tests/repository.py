"""The repository's own files, as git sees them, for the tests that check its documents and names."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import PROJECT_ROOT


def repository_files() -> list[str]:
    """Paths (relative to the project, with ``/``) that git tracks or would track: tracked, or new and not
    ignored, so a file added in the same change counts. Skips the calling test outside a git checkout."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return sorted({name for name in listed.decode().split("\0") if name and (PROJECT_ROOT / name).exists()})
