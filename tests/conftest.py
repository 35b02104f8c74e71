"""Shared fixtures: an isolated environment for every test, and one knowledge base per session.

The knowledge base here never embeds anything: criteria and the guideline corpus load from the
packaged files without the MiniLM model or Chroma, and a guard embedder fails any test that
reaches for retrieval by mistake.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import needs
import pytest
from needs import unavailable
from pg_server import MISSING, PgServer, find_bindir, postgres_server

from agent.criteria.engine import Engine
from agent.criteria.model import CriteriaSet
from agent.knowledge.base import KnowledgeBase
from agent.review.validator import Validator
from agent.settings import Settings, get_settings

POLICY = "acr-default"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-snapshots",
        action="store_true",
        help="rewrite tests/snapshots/* from the current output (review the diff before committing)",
    )


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No real endpoint, key or user setting reaches a test; data lives in a fresh tmp dir."""
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "UMREVIEW_")):
            monkeypatch.delenv(name)
    data_dir = tmp_path_factory.mktemp("umreview-data")
    monkeypatch.setenv("UMREVIEW_DATA_DIR", str(data_dir))
    # The user's own config.toml must not leak in either: point at a file that does not exist.
    monkeypatch.setenv("UMREVIEW_CONFIG", str(data_dir / "absent-config.toml"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One throwaway PostgreSQL server for the whole session (Debian's server binaries)."""
    bindir = find_bindir()
    if bindir is None:
        unavailable(MISSING)
    needs.module("psycopg", "psycopg 3 is needed for PostgreSQL (pip install -e '.[postgres]')")
    with postgres_server(bindir) as server:
        yield server


class NoEmbedder:
    """Fails loudly if a test that must not load a model tries to embed."""

    name = "no-embedder"
    dimension = 384

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        raise AssertionError("this test must not embed: use kb.corpus and kb.criteria() only")


@pytest.fixture(scope="session")
def kb_offline(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """Built-in guidelines and criteria only; retrieval is unavailable (and never needed)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("kb-offline"), policy=POLICY)
    return KnowledgeBase(settings=settings, embedder=NoEmbedder())


@pytest.fixture(scope="session")
def criteria(kb_offline: KnowledgeBase) -> CriteriaSet:
    return kb_offline.criteria(POLICY)


@pytest.fixture(scope="session")
def engine(kb_offline: KnowledgeBase, criteria: CriteriaSet) -> Engine:
    return Engine(criteria, kb_offline.resolve)


@pytest.fixture(scope="session")
def validator(kb_offline: KnowledgeBase, criteria: CriteriaSet, engine: Engine) -> Validator:
    return Validator(criteria, kb_offline.corpus, engine)
