"""Reading submitted documents into text: plain text, HTML, PDF (text layer, else OCR) and scanned pages.

One entry point per source: ``read_file`` for an attachment named by a case file (``path`` relative to
that file) and ``read_bytes`` for a document that arrived inline (a FHIR ``Attachment.data`` or a
``Binary``). Both return a ``Document``; problems raise ``DocumentError`` with what to do about them,
which the callers turn into a ``CaseFileError`` naming the case file and the field.

OCR uses Debian's ``tesseract`` and poppler's ``pdftoppm`` through subprocess (no Python binding
needed). Limits are settings: the pages OCR'd per document and the seconds allowed per page.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO

TEXT_TYPES = {".txt": "text/plain", ".md": "text/markdown", ".text": "text/plain"}
HTML_TYPES = {".html": "text/html", ".htm": "text/html", ".xhtml": "application/xhtml+xml"}
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".tif": "image/tiff", ".tiff": "image/tiff"}
MEDIA_TYPES = {**TEXT_TYPES, **HTML_TYPES, **IMAGE_TYPES, ".pdf": "application/pdf"}
SUFFIX_FOR = {
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/tiff": ".tif",
}
BLOCK_TAGS = [
    "p",
    "div",
    "li",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "section",
    "article",
    "pre",
    "blockquote",
    "dt",
    "dd",
]
OCR_DPI = 200
MIN_TEXT_LAYER_CHARS = 16  # a page with less text than this is treated as a scan and OCR'd


class DocumentError(Exception):
    """A document cannot be read; the message says why and what to send instead (never document text)."""


@dataclass
class OcrLimits:
    """How much OCR one document may cost (``Settings.ocr_max_pages`` / ``ocr_page_timeout``)."""

    max_pages: int = 50
    page_timeout: float = 60.0

    @classmethod
    def from_settings(cls) -> OcrLimits:
        from agent.settings import get_settings

        s = get_settings()
        return cls(max_pages=s.ocr_max_pages, page_timeout=s.ocr_page_timeout)


@dataclass
class Document:
    text: str
    media_type: str
    pages: int | None = None
    ocr_pages: int = 0
    date: date | None = None


def media_type_for(name: str) -> str | None:
    return MEDIA_TYPES.get(Path(name).suffix.lower())


def read_file(path: Path, *, limits: OcrLimits | None = None) -> Document:
    """Read the document at ``path`` (type from its suffix)."""
    media_type = media_type_for(path.name)
    if media_type is None:
        raise DocumentError(f"{path.name!r} has an unsupported type; attach .pdf, .txt, .md, .html, .png, .jpg or .tif documents")
    if not path.is_file():
        raise DocumentError(f"{path.name!r} was not found next to the case file (paths are relative to the case file)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(
            f"{path.name!r} cannot be read ({exc.strerror or exc.__class__.__name__}); check its permissions"
        ) from None
    return read_bytes(data, media_type, name=path.name, limits=limits)


def read_bytes(data: bytes, media_type: str, *, name: str = "document", limits: OcrLimits | None = None) -> Document:
    """Read a document given as bytes with its media type (parameters such as ``; charset=`` are ignored)."""
    kind = media_type.split(";", 1)[0].strip().lower()
    if not data.strip():
        raise DocumentError(f"{name!r} is empty; attach the document itself")
    if kind in ("text/plain", "text/markdown", "text/x-markdown"):
        text = _decode(data)
    elif kind in ("text/html", "application/xhtml+xml"):
        text = html_to_text(_decode(data))
    elif kind == "application/pdf":
        return _read_pdf(data, name, limits or OcrLimits.from_settings())
    elif kind in ("image/png", "image/jpeg", "image/jpg", "image/tiff"):
        text, pages = _ocr_image(data, SUFFIX_FOR.get(kind, ".png"), name, limits or OcrLimits.from_settings())
        return _document(text, kind, pages=pages, ocr_pages=pages, name=name)
    else:
        raise DocumentError(
            f"{name!r} has media type {kind!r}, which cannot be read; "
            "send text/plain, text/html, application/pdf or an image of the page"
        )
    return _document(text, kind, name=name)


def read_stream(stream: IO[bytes], media_type: str, *, name: str = "document", limits: OcrLimits | None = None) -> Document:
    """Read a document from a binary file (an upload spooled to disk) without loading a PDF or a scan into
    memory: pypdf reads the PDF from the file, and OCR gets a copy of it on disk. Text is read whole."""
    kind = media_type.split(";", 1)[0].strip().lower()
    stream.seek(0, os.SEEK_END)
    empty = stream.tell() == 0
    stream.seek(0)
    if empty:
        raise DocumentError(f"{name!r} is empty; attach the document itself")
    if kind == "application/pdf":
        return _read_pdf(stream, name, limits or OcrLimits.from_settings())
    if kind in ("image/png", "image/jpeg", "image/jpg", "image/tiff"):
        text, pages = _ocr_image(stream, SUFFIX_FOR.get(kind, ".png"), name, limits or OcrLimits.from_settings())
        return _document(text, kind, pages=pages, ocr_pages=pages, name=name)
    return read_bytes(stream.read(), media_type, name=name, limits=limits)


def _write(data: bytes | IO[bytes], path: Path) -> None:
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        data.seek(0)
        with path.open("wb") as out:
            shutil.copyfileobj(data, out, 64 * 1024)


def _document(text: str, media_type: str, *, name: str, pages: int | None = None, ocr_pages: int = 0) -> Document:
    text = _tidy(text)
    if not text.strip():
        raise DocumentError(f"{name!r} has no readable text; send a legible copy (typed text, or a scan of at least 200 dpi)")
    return Document(text=text, media_type=media_type, pages=pages, ocr_pages=ocr_pages, date=document_date(text))


def _decode(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise DocumentError("the document is binary, not text; attach it with its real type (.pdf, .png, ...)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # older fax/EHR exports


def _tidy(text: str) -> str:
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(markup: str) -> str:
    """Visible text of an HTML document: no tags, scripts, styles or comments; block elements on their own lines."""
    from bs4 import BeautifulSoup, Comment

    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(["script", "style", "head", "title", "meta", "noscript", "template"]):
        tag.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(BLOCK_TAGS):
        block.insert_before("\n")
        block.insert_after("\n")
    for cell in soup.find_all(["td", "th"]):
        cell.insert_after(" ")
    return _tidy(soup.get_text(""))  # inline tags (<b>, <span>) do not break a sentence


# -- dates -------------------------------------------------------------------------------------------

_LABEL = r"(?:date of service|service date|visit date|date of visit|encounter date|report date|note date|exam date|dos|date)"
_DATE_PATTERNS = (
    (re.compile(_LABEL + r"\s*[:#-]?\s*(\d{4})-(\d{1,2})-(\d{1,2})\b", re.I), (1, 2, 3)),
    (re.compile(_LABEL + r"\s*[:#-]?\s*(\d{1,2})/(\d{1,2})/(\d{4})\b", re.I), (3, 1, 2)),
)


def document_date(text: str) -> date | None:
    """The date a document states for itself ("Date of service: 2026-09-20", "DOS: 09/20/2026"), else None."""
    head = text[:3000]
    for pattern, (y, m, d) in _DATE_PATTERNS:
        match = pattern.search(head)
        if match:
            try:
                return date(int(match.group(y)), int(match.group(m)), int(match.group(d)))
            except ValueError:
                continue
    return None


# -- PDF and OCR ---------------------------------------------------------------------------------------


def _read_pdf(data: bytes | IO[bytes], name: str, limits: OcrLimits) -> Document:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data) if isinstance(data, bytes) else data)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(f"{name!r} is password-protected; send an unprotected copy")
        layers = [(page.extract_text() or "") for page in reader.pages]
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError):
        raise DocumentError(f"{name!r} is not a readable PDF (damaged or truncated); send the file again") from None
    scanned = [i for i, text in enumerate(layers) if len(text.strip()) < MIN_TEXT_LAYER_CHARS]
    if len(scanned) > limits.max_pages:
        raise DocumentError(
            f"{name!r} has {len(scanned)} scanned pages, more than the {limits.max_pages} pages OCR'd per document "
            "(setting ocr_max_pages); send the relevant pages, or a PDF with a text layer"
        )
    if scanned:
        with tempfile.TemporaryDirectory(prefix="umreview-pdf-") as tmp:
            pdf = Path(tmp) / "doc.pdf"
            _write(data, pdf)
            with ThreadPoolExecutor(max_workers=max(1, min(len(scanned), os.cpu_count() or 1))) as pool:
                for i, text in zip(scanned, pool.map(lambda i: _ocr_pdf_page(pdf, i + 1, name, limits), scanned), strict=True):
                    layers[i] = text
    text = "\n\n".join(t.strip() for t in layers if t.strip())
    return _document(text, "application/pdf", pages=len(layers), ocr_pages=len(scanned), name=name)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        package = "tesseract-ocr" if name == "tesseract" else "poppler-utils"
        raise DocumentError(f"scanned pages need OCR, but {name!r} is not installed on the server (apt install {package})")
    return found


def _run(cmd: list[str], name: str, timeout: float) -> subprocess.CompletedProcess[bytes]:
    # One OpenMP thread per tesseract: on 2 cores its own threading made a page take 10 s instead of 2 s;
    # pages run side by side instead (``_read_pdf``).
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False, env=env)
    except subprocess.TimeoutExpired:
        raise DocumentError(
            f"OCR of {name!r} took longer than {timeout:g} s for one page (setting ocr_page_timeout); "
            "send a smaller or clearer scan"
        ) from None
    if done.returncode != 0:
        raise DocumentError(f"{name!r} could not be OCR'd (is it a valid image?); send a PDF or a PNG/TIFF scan of the page")
    return done


def _ocr_pdf_page(pdf: Path, page: int, name: str, limits: OcrLimits) -> str:
    out = pdf.with_name(f"page-{page}")
    _run(
        [
            _tool("pdftoppm"),
            "-r",
            str(OCR_DPI),
            "-gray",
            "-png",
            "-f",
            str(page),
            "-l",
            str(page),
            "-singlefile",
            str(pdf),
            str(out),
        ],
        name,
        limits.page_timeout,
    )
    return ocr_image_file(out.with_suffix(".png"), name, limits)


def ocr_image_file(image: Path, name: str, limits: OcrLimits) -> str:
    """Text of one page image by tesseract (English, automatic page segmentation)."""
    done = _run([_tool("tesseract"), str(image), "stdout", "-l", "eng", "--psm", "3"], name, limits.page_timeout)
    return done.stdout.decode("utf-8", errors="replace")


def _ocr_image(data: bytes | IO[bytes], suffix: str, name: str, limits: OcrLimits) -> tuple[str, int]:
    with tempfile.TemporaryDirectory(prefix="umreview-img-") as tmp:
        image = Path(tmp) / f"page{suffix}"
        _write(data, image)
        frames = _tiff_frames(image) if suffix == ".tif" else 1
        if frames > limits.max_pages:
            raise DocumentError(
                f"{name!r} has {frames} pages, more than the {limits.max_pages} OCR'd per document (setting ocr_max_pages)"
            )
        text = _run([_tool("tesseract"), str(image), "stdout", "-l", "eng", "--psm", "3"], name, limits.page_timeout * frames)
        return text.stdout.decode("utf-8", errors="replace"), frames


def _tiff_frames(image: Path) -> int:
    try:
        from PIL import Image

        with Image.open(image) as im:
            return int(getattr(im, "n_frames", 1))
    except (OSError, ValueError):
        raise DocumentError(f"{image.name!r} is not a readable image; send a PNG, JPEG or TIFF scan") from None


def fill_attachments(data: object, *, case_file: Path, source: str, limits: OcrLimits | None = None) -> None:
    """Read every ``request.attachments[i].path`` of a parsed case (in place), relative to ``case_file``.

    An attachment that already carries ``text`` (a stored case) is not read again. A document that cannot
    be read raises ``CaseFileError`` naming ``source`` and ``request.attachments[i].path``; the caller keeps
    going with the rest of its batch. Without a note date, the newest attachment date becomes it.
    """
    from agent.errors import CaseFileError

    request = data.get("request") if isinstance(data, dict) else None
    attachments = request.get("attachments") if isinstance(request, dict) else None
    if not isinstance(attachments, list):
        return
    for i, att in enumerate(attachments):
        if not isinstance(att, dict) or not isinstance(att.get("path"), str) or att.get("text"):
            continue  # shape errors are reported by the model's validation
        field = f"request.attachments[{i}].path"
        rel = Path(att["path"])
        if rel.is_absolute():
            raise CaseFileError(source, field, f"{att['path']!r} is absolute; give the path relative to the case file")
        try:
            doc = read_file(case_file.parent / rel, limits=limits)
        except DocumentError as exc:
            raise CaseFileError(source, field, str(exc)) from None
        att["text"] = doc.text
        att.setdefault("media_type", doc.media_type)
        if doc.pages is not None:
            att.setdefault("pages", doc.pages)
        att.setdefault("ocr_pages", doc.ocr_pages)
        if not att.get("date") and doc.date:
            att["date"] = doc.date.isoformat()
    if isinstance(request, dict) and not request.get("note_date"):
        dates = [str(a["date"]) for a in attachments if isinstance(a, dict) and a.get("date")]
        if dates:
            request["note_date"] = max(dates)


def require_read(case: object, *, source: str = "submitted case") -> None:
    """Refuse a case whose attachment names a file but carries no text (sent over the API or the workbench,
    where there is no case file to resolve ``path`` against): ``CaseFileError`` -> HTTP 422."""
    from agent.errors import CaseFileError

    for i, att in enumerate(getattr(getattr(case, "request", None), "attachments", None) or []):
        if att.path and not (att.text or "").strip():
            raise CaseFileError(
                source,
                f"request.attachments[{i}].path",
                f"{att.path[:80]!r} cannot be read from a request sent over the network (there is no case file to "
                "resolve it against); put the document's text in request.attachments[i].text, or send a FHIR Bundle "
                "to /fhir/Claim/$submit with the document inline (DocumentReference.content.attachment.data)",
            )
