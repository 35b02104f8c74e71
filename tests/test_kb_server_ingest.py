"""Chroma in client/server mode (a real `chroma run` on 127.0.0.1) and `umreview ingest` of user documents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chroma_server import chroma_cli
from chroma_server import chroma_server as run_chroma_server
from needs import unavailable
from test_retrieval import HashEmbedder
from typer.testing import CliRunner

from agent.cli.main import app
from agent.knowledge.base import KnowledgeBase
from agent.knowledge.documents import parse_markdown_document
from agent.knowledge.ingest import ingest_files
from agent.knowledge.retrieval import Filters
from agent.settings import Settings


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if chroma_cli() is None:
        unavailable("the chroma CLI (from the chromadb package) is not installed")
    with run_chroma_server(tmp_path_factory.mktemp("chroma")) as url:
        yield url


def test_retrieval_through_a_chroma_server(chroma_server: str, tmp_path: Path) -> None:
    embedded = KnowledgeBase(Settings(data_dir=tmp_path / "embedded"), embedder=HashEmbedder())
    remote = KnowledgeBase(Settings(data_dir=tmp_path / "remote", chroma_url=chroma_server), embedder=HashEmbedder())
    added, _ = remote.sync()
    assert added == len(remote.corpus.chunks)
    assert remote.sync() == (0, 0)  # a second client sees the same collection: nothing to add
    query, filters = "fever with back pain in a dialysis patient", Filters(region="lumbar")
    assert [h.chunk.id for h in remote.search(query, 5, filters)] == [h.chunk.id for h in embedded.search(query, 5, filters)]


def test_bad_chroma_url_is_a_config_error(tmp_path: Path) -> None:
    from agent.errors import ConfigError

    kb = KnowledgeBase(Settings(data_dir=tmp_path, chroma_url="not a url"), embedder=HashEmbedder())
    with pytest.raises(ConfigError, match="UMREVIEW_CHROMA_URL"):
        _ = kb.vectors


def _pdf(path: Path, text: str) -> None:
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=letter)
    c.drawString(72, 720, text)
    c.save()


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        (
            "plan-policy.md",
            "# Plan coccyx policy\n\n## Coccydynia\n\nTailbone imaging needs radiographs first.\n",
            "Tailbone imaging",
        ),
        ("notes.txt", "Sacroiliac joint pain: radiographs of the SI joints come first.\n", "Sacroiliac joint pain"),
        (
            "page.html",
            "<html><body><h1>Scoliosis policy</h1><p>Standing radiographs for curve measurement.</p></body></html>",
            "Standing radiographs",
        ),
    ],
    ids=["markdown", "text", "html"],
)
def test_ingest_converts_documents(tmp_path: Path, name: str, content: str, needle: str) -> None:
    source = tmp_path / name
    source.write_text(content)
    [written] = ingest_files([source], tmp_path / "guidelines")
    doc = parse_markdown_document(written, builtin=False)
    assert needle in doc.body and doc.meta.publisher == "user-supplied"


def test_ingest_pdf(tmp_path: Path) -> None:
    source = tmp_path / "pdf-policy.pdf"
    _pdf(source, "Coccygeal pain: plain films before MRI.")
    [written] = ingest_files([source], tmp_path / "guidelines")
    assert "Coccygeal pain" in written.read_text()


def test_cli_ingest_and_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import agent.knowledge.base as knowledge

    monkeypatch.setattr(knowledge, "get_embedder", lambda name="minilm": HashEmbedder())
    doc = tmp_path / "tailbone.md"
    doc.write_text("# Tailbone policy\n\n## Coccydynia imaging\n\nCoccydynia needs radiographs before any MRI.\n")
    result = CliRunner().invoke(app, ["ingest", str(doc)])
    assert result.exit_code == 0, result.output
    assert "embedded" in result.stdout
    found = CliRunner().invoke(app, ["search", "coccydynia radiographs", "-k", "3", "--json"])
    assert found.exit_code == 0, found.output
    assert "tailbone#" in found.stdout
