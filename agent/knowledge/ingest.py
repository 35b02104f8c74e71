"""``umreview ingest``: add a user's own guideline documents to the knowledge base.

Markdown with front matter is copied as is; Markdown without it, plain text, HTML and PDF are
converted to Markdown with front matter derived from the file (title from the first heading or
the file name). Files land in ``<data_dir>/guidelines`` and are embedded incrementally.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import date
from pathlib import Path

import yaml

from agent.errors import CaseFileError, CriteriaFileError
from agent.knowledge.documents import DOCUMENT_SUFFIXES, parse_markdown_document


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "document"


def _html_to_markdown(html: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "nav", "footer"]):
        tag.decompose()
    lines = []
    for el in soup.find_all(["h1", "h2", "h3", "h4", "p", "li", "td"]):
        text = " ".join(el.get_text(" ").split())
        if not text:
            continue
        level = int(el.name[1]) if el.name.startswith("h") else 0
        lines.append(f"{'#' * level} {text}" if level else (f"- {text}" if el.name == "li" else text))
        lines.append("")
    return "\n".join(lines)


def _pdf_to_markdown(path: Path) -> str:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    pages = [f"## Page {i}\n\n{(page.extract_text() or '').strip()}\n" for i, page in enumerate(reader.pages, start=1)]
    return "\n".join(pages)


def to_markdown(path: Path) -> str:
    """A guideline file as Markdown with front matter (unchanged if it already has some)."""
    suffix = path.suffix.lower()
    if suffix not in DOCUMENT_SUFFIXES:
        raise CaseFileError(path, "", f"unsupported document type {suffix!r}; use one of {', '.join(DOCUMENT_SUFFIXES)}")
    if suffix == ".pdf":
        body = _pdf_to_markdown(path)
    else:
        text = path.read_text(encoding="utf-8", errors="replace")
        if suffix in (".md", ".markdown") and text.startswith("---\n"):
            return text
        body = _html_to_markdown(text) if suffix in (".html", ".htm") else text
    heading = re.search(r"^#\s+(.+)$", body, re.MULTILINE)
    title = heading.group(1).strip() if heading else path.stem.replace("_", " ").replace("-", " ").title()
    meta = {
        "id": _slug(path.stem),
        "title": title,
        "publisher": "user-supplied",
        "source": f"ingested from {path.name}",
        "version": date.today().isoformat(),
        "year": date.today().year,
        "region": "any",
        "topic": "user",
        "licence": "Supplied by the user; check its licence before sharing.",
    }
    if not heading:
        body = f"# {title}\n\n{body}"
    return f"---\n{yaml.safe_dump(meta, sort_keys=False)}---\n\n{body}"


def _checked(file: Path, markdown: str) -> None:
    """Parse ``markdown`` as a guideline document, naming ``file`` (not a scratch copy) if it is malformed."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / f"{_slug(file.stem)}.md"
        copy.write_text(markdown, encoding="utf-8")
        try:
            parse_markdown_document(copy, builtin=False)
        except CriteriaFileError as exc:
            raise CriteriaFileError(file, exc.field, exc.problem) from None


def ingest_files(paths: list[Path], target: Path) -> list[Path]:
    """Convert and copy documents into ``target``; return the written files. Every file is checked
    before any is written, so a rejected document never lands in ``target`` (where it would break
    every later command until removed by hand)."""
    ready: list[tuple[Path, str]] = []
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in DOCUMENT_SUFFIXES) if path.is_dir() else [path]
        for file in files:
            if not file.exists():
                raise CaseFileError(file, "", "no such file")
            markdown = to_markdown(file)
            _checked(file, markdown)  # fail now, naming the file, if it is malformed
            ready.append((target / f"{_slug(file.stem)}.md", markdown))
    target.mkdir(parents=True, exist_ok=True)
    for out, markdown in ready:
        partial = out.with_name(out.name + ".partial")  # not a document suffix: never read half-written
        partial.write_text(markdown, encoding="utf-8")
        os.replace(partial, out)
    return [out for out, _ in ready]
