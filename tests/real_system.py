"""Helpers for tests that use the real encoder and the shipped reader (built once per session)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import CORPUS_DIR, PROJECT_ROOT


def build_real_index(folder: Path) -> Path:
    """Build the real index of the repo corpus into ``folder`` and return it."""
    from embeddings import SentenceTransformerEncoder, build_index

    build_index(CORPUS_DIR, folder, encoder=SentenceTransformerEncoder())
    return folder


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_server(index_dir: Path, *, corpus_dir: Path = CORPUS_DIR, timeout: float = 180.0):
    """Start ``qa serve`` over ``index_dir`` and ``corpus_dir`` on a free loopback port; yield its base URL;
    stop it afterwards."""
    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "serve",
            "--port",
            str(port),
            "--index",
            str(index_dir),
            "--corpus",
            str(corpus_dir),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                raise RuntimeError(f"server exited: {output[-3000:]}")
            try:
                with urllib.request.urlopen(url + "/", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("server did not start")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
