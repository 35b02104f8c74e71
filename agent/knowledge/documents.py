"""Guideline documents and their chunks.

A document is a Markdown file with YAML front matter (id, title, publisher, source, version,
year, source_url, region, topic, licence). Users may add Markdown, text, HTML or PDF files
(``umreview ingest``); those get front matter derived from the file.

Chunking is heading-aware: one chunk per section (split further at paragraph boundaries when
long). Chunk ids are stable: ``<document id>#<section path slug>@<content hash>``; the same text
always gets the same id, so re-ingest touches only chunks whose text changed.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import re
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.errors import CriteriaFileError

MAX_CHUNK_CHARS = 1400
DOCUMENT_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf")


class DocumentMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str
    publisher: str
    source: str
    version: str
    year: int
    source_url: str | None = None
    region: str = "any"
    topic: str = "general"
    licence: str


class GuidelineDocument(BaseModel):
    meta: DocumentMeta
    body: str
    path: str
    builtin: bool = True

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.body.encode()).hexdigest()[:12]


class Chunk(BaseModel):
    """One section of a guideline document: the unit of retrieval and of citation."""

    model_config = ConfigDict(frozen=True)
    id: str
    document_id: str
    document_title: str
    document_version: str
    section_path: tuple[str, ...]
    text: str
    region: str
    topic: str
    order: int

    @property
    def section(self) -> str:
        return " > ".join(self.section_path)

    def embedding_text(self) -> str:
        return f"{self.document_title}. {self.section}.\n{self.text}"


def builtin_guidelines_dir() -> Path:
    return Path(str(importlib.resources.files("umreview_guidelines")))


_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)


def parse_markdown_document(path: Path, *, builtin: bool = True) -> GuidelineDocument:
    """Parse a Markdown guideline with YAML front matter; errors name the file and field."""
    text = path.read_text(encoding="utf-8")
    match = _FRONT_MATTER.match(text)
    if not match:
        raise CriteriaFileError(path, "front matter", "missing '---' YAML front matter block at the top")
    try:
        meta = DocumentMeta.model_validate(yaml.safe_load(match.group(1)))
    except ValidationError as exc:
        err = exc.errors()[0]
        raise CriteriaFileError(path, f"front matter.{'.'.join(map(str, err['loc']))}", err["msg"]) from None
    return GuidelineDocument(meta=meta, body=text[match.end() :], path=str(path), builtin=builtin)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "section"


def _split_long(text: str) -> list[str]:
    if len(text) <= MAX_CHUNK_CHARS:
        return [text]
    parts: list[str] = []
    current = ""
    for para in re.split(r"\n\s*\n", text):
        if current and len(current) + len(para) + 2 > MAX_CHUNK_CHARS:
            parts.append(current)
            current = para
        else:
            current = f"{current}\n\n{para}" if current else para
    if current:
        parts.append(current)
    return parts


def chunk_document(doc: GuidelineDocument) -> list[Chunk]:
    """Split a document into heading-aware chunks with stable ids."""
    sections: list[tuple[tuple[str, ...], str]] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []

    def flush() -> None:
        body = "\n".join(lines).strip()
        if body:
            sections.append((tuple(h for _, h in path) or (doc.meta.title,), body))
        lines.clear()

    for line in doc.body.splitlines():
        heading = re.match(r"^(#{1,4})\s+(.*?)\s*#*\s*$", line)
        if heading:
            flush()
            level = len(heading.group(1))
            path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, heading.group(2))]
        else:
            lines.append(line)
    flush()

    chunks: list[Chunk] = []
    seen: set[str] = set()
    for section_path, body in sections:
        for part_no, part in enumerate(_split_long(body), start=1):
            slug = "/".join(_slug(h) for h in section_path[1:] or section_path)
            if part_no > 1:
                slug += f"/part-{part_no}"
            digest = hashlib.sha256(part.encode()).hexdigest()[:8]
            chunk_id = f"{doc.meta.id}#{slug}@{digest}"
            if chunk_id in seen:
                continue
            seen.add(chunk_id)
            chunks.append(
                Chunk(
                    id=chunk_id,
                    document_id=doc.meta.id,
                    document_title=doc.meta.title,
                    document_version=doc.meta.version,
                    section_path=section_path,
                    text=part,
                    region=doc.meta.region,
                    topic=doc.meta.topic,
                    order=len(chunks),
                )
            )
    return chunks


def load_documents(directories: list[Path]) -> list[GuidelineDocument]:
    """Every Markdown guideline in ``directories`` (built-in first); later ids replace earlier."""
    docs: dict[str, GuidelineDocument] = {}
    for index, directory in enumerate(directories):
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.md")):
            if path.name.lower() == "readme.md":
                continue
            doc = parse_markdown_document(path, builtin=index == 0)
            docs[doc.meta.id] = doc
    return list(docs.values())


class Corpus(BaseModel):
    """All documents and chunks of a knowledge base, with its content-derived version."""

    documents: list[GuidelineDocument]
    chunks: list[Chunk]

    @property
    def version(self) -> str:
        digest = hashlib.sha256("\n".join(sorted(c.id for c in self.chunks)).encode()).hexdigest()
        return f"kb-{digest[:12]}"

    def chunk(self, chunk_id: str) -> Chunk | None:
        return self._by_id().get(chunk_id)

    def _by_id(self) -> dict[str, Chunk]:
        cache = self.__dict__.get("_index")
        if cache is None:
            cache = {c.id: c for c in self.chunks}
            self.__dict__["_index"] = cache
        return cache

    def find_quote(self, quote: str, document_id: str | None = None) -> Chunk | None:
        """The first chunk (optionally of one document) containing ``quote`` verbatim."""
        return next(
            (c for c in self.chunks if (document_id is None or c.document_id == document_id) and quote in c.text),
            None,
        )

    def document(self, document_id: str) -> GuidelineDocument | None:
        return next((d for d in self.documents if d.meta.id == document_id), None)


def build_corpus(directories: list[Path]) -> Corpus:
    docs = load_documents(directories)
    return Corpus(documents=docs, chunks=[c for d in docs for c in chunk_document(d)])


@lru_cache(maxsize=4)
def _cached_corpus(dirs: tuple[Path, ...], stamp: tuple[float, ...]) -> Corpus:
    return build_corpus(list(dirs))


def corpus_for(directories: list[Path]) -> Corpus:
    """The corpus of ``directories``, cached until a file in them changes."""
    stamp = tuple(p.stat().st_mtime for d in directories if d.is_dir() for p in sorted(d.glob("*.md")))
    return _cached_corpus(tuple(directories), stamp)
