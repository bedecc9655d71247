"""Shared fixtures: no network, a deterministic fake encoder, small corpora and indexes."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = PROJECT_ROOT / "corpus"
READER_DIR = PROJECT_ROOT / "models" / "reader"


def _is_loopback(address) -> bool:
    if isinstance(address, tuple) and address:
        host = address[0]
    else:
        return True  # unix sockets and the like never leave the machine
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class NetworkBlocked(RuntimeError):
    """Raised when a test tries to reach anything but this machine."""


@pytest.fixture(autouse=True)
def block_network(monkeypatch):
    """Every test runs offline: connections to anything but loopback raise ``NetworkBlocked``."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded_connect(self, address):
        if not _is_loopback(address):
            raise NetworkBlocked(f"network access blocked in tests: {address!r}")
        return real_connect(self, address)

    def guarded_connect_ex(self, address):
        if not _is_loopback(address):
            raise NetworkBlocked(f"network access blocked in tests: {address!r}")
        return real_connect_ex(self, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        if host not in (None, "localhost") and not _is_loopback((host,)):
            raise NetworkBlocked(f"DNS lookup blocked in tests: {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    return


@pytest.fixture
def fake_encoder():
    """The deterministic hashing encoder: fast, no model files."""
    from embeddings.encoder import HashingEncoder

    return HashingEncoder()


ARTICLE_MISSILES = """

# US boosts missile sales to Iraq

Peter Symonds  
1 August 2014

Amid attempts by the Iraqi army to push back ISIS, the Pentagon announced the sale of Hellfire missiles to Iraq. The deal shores up the Baghdad regime.

The \\$700 million deal involves the provision of an additional 5,000 missiles, on top of 780 already delivered this year. Some 450 missiles were delivered in July.

Last week, Pentagon spokesman Colonel Steve Warren reported that 825 US troops were on the ground in Iraq. About 90 advisers

were gathering intelligence "for recommendations for a way ahead."

To contact the WSWS and the  
Socialist Equality Party visit:

**[wsws.org/contact](http://wsws.org/contact)**
"""

ARTICLE_NO_DATE = """Obama holds security talks with Iraqi premier Maliki

Iraqi Prime Minister Nouri al-Maliki travelled to Washington last week for talks with US President Barack Obama about a *military* package worth approximately $4.7 billion.

The purpose of the meeting was to discuss ramping up of US military support to Iraq amid rising sectarian violence spreading from the proxy war in neighboring Syria.
"""


@pytest.fixture
def small_corpus(tmp_path) -> Path:
    """A two-article corpus with the real corpus's quirks (escapes, footer, page break, no date)."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "missiles.txt").write_text(ARTICLE_MISSILES, encoding="utf-8")
    (folder / "talks.md").write_text(ARTICLE_NO_DATE, encoding="utf-8")
    return folder


@pytest.fixture
def small_index(small_corpus, tmp_path, fake_encoder):
    """``(corpus_dir, index_dir)`` with an index built by the fake encoder."""
    from embeddings.index import build_index

    index_dir = tmp_path / "index"
    build_index(small_corpus, index_dir, encoder=fake_encoder)
    return small_corpus, index_dir


def reader_available() -> bool:
    return (READER_DIR / "model.safetensors").exists()


@pytest.fixture(scope="session")
def real_index(tmp_path_factory):
    """The repo corpus indexed with the real encoder (once per session)."""
    from tests.real_system import build_real_index

    return build_real_index(tmp_path_factory.mktemp("real") / "index")


@pytest.fixture(scope="session")
def real_answerer(real_index):
    """A QuestionAnswerer over the real index with the shipped reader and rereader, loaded once."""
    from qa.pipeline import QuestionAnswerer

    return QuestionAnswerer(index_dir=real_index, corpus_dir=CORPUS_DIR).load()
