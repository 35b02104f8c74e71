"""Attachments: documents read into text at load time (text, HTML, PDF text layer, OCR of scans)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from scans import scanned_pdf, scanned_png, text_pdf

from agent.cases.attachments import DocumentError, OcrLimits, html_to_text, read_bytes, read_file
from agent.cases.load import load_case, load_cases
from agent.errors import CaseFileError

EVALS = Path(__file__).parent.parent / "evals" / "cases"
NOTE = "Date of service: 2026-09-20\nPT discharge summary: 8 weeks of physical therapy without improvement.\nESR 88 mm/h."


def write_case(folder: Path, attachments: list[dict[str, Any]], *, notes: str | None = None, name: str = "case.yaml") -> Path:
    request: dict[str, Any] = {
        "patient": {"age": 52, "sex": "female"},
        "procedures": [{"code": "72148"}],
        "attachments": attachments,
    }
    if notes:
        request["clinical_notes"] = notes
    path = folder / name
    path.write_text(yaml.safe_dump({"id": path.stem, "request": request}))
    return path


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("note.txt", NOTE.encode()),
        ("note.md", NOTE.encode()),
        (
            "note.html",
            f"<html><head><style>p{{x:1}}</style><script>alert(1)</script></head><body><p>{NOTE}</p></body></html>".encode(),
        ),
    ],
    ids=["text", "markdown", "html"],
)
def test_text_documents_are_read_and_dated(tmp_path: Path, filename: str, content: bytes) -> None:
    (tmp_path / filename).write_bytes(content)
    case = load_case(write_case(tmp_path, [{"path": filename, "title": "PT discharge summary"}]))
    att = case.request.attachments[0]
    assert "8 weeks of physical therapy" in (att.text or "") and "<" not in (att.text or "") and "alert" not in (att.text or "")
    assert str(att.date) == "2026-09-20" and str(case.request.note_date) == "2026-09-20"
    assert "=== ATTACHMENT 1: PT discharge summary (2026-09-20) ===" in case.request.documentation


def test_html_loses_tags_scripts_and_comments() -> None:
    text = html_to_text("<div>Pain <b>radiates</b><br>below the knee<!-- hidden --></div><script>x()</script><p>ESR 88</p>")
    assert text == "Pain radiates\nbelow the knee\n\nESR 88"


def test_a_pdf_text_layer_is_read_without_ocr(tmp_path: Path) -> None:
    doc = read_file(text_pdf(NOTE, tmp_path / "note.pdf"))
    assert doc.ocr_pages == 0 and doc.pages == 1 and "physical therapy" in doc.text


def test_a_scanned_page_image_is_ocrd(tmp_path: Path) -> None:
    doc = read_file(scanned_png(NOTE, tmp_path / "page.png"))
    assert doc.ocr_pages == 1 and "physical therapy" in doc.text and "ESR 88" in doc.text


@pytest.mark.parametrize(
    ("filename", "content", "problem"),
    [
        ("missing.pdf", None, "not found"),
        ("notes.docx", b"PK\x03\x04", "unsupported type"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "not a readable PDF"),
        ("empty.txt", b"", "empty"),
        ("blank.png", "blank", "no readable text"),
    ],
    ids=["missing", "unsupported", "corrupt-pdf", "empty", "blank-scan"],
)
def test_unreadable_attachments_name_the_case_file_and_field(tmp_path: Path, filename: str, content: Any, problem: str) -> None:
    if content == "blank":
        scanned_png("", tmp_path / filename)
    elif content is not None:
        (tmp_path / filename).write_bytes(content)
    bad = write_case(tmp_path, [{"path": filename}], name="bad.yaml")
    good = write_case(tmp_path, [], notes="52F, 8 weeks of leg pain.", name="good.yaml")
    result = load_cases([bad, good])
    assert [c.id for c in result.cases] == ["good"]  # the rest of the batch still loads
    (error,) = result.errors
    assert isinstance(error, CaseFileError) and error.path == str(bad)
    assert error.field == "request.attachments[0].path" and problem in error.problem


def test_the_ocr_page_limit_is_enforced(tmp_path: Path) -> None:
    pdf = scanned_pdf(NOTE, tmp_path / "scan.pdf")
    with pytest.raises(DocumentError, match="ocr_max_pages"):
        read_file(pdf, limits=OcrLimits(max_pages=0))


def test_unknown_media_types_are_refused() -> None:
    with pytest.raises(DocumentError, match="cannot be read"):
        read_bytes(b"data", "application/msword")


# -- a scanned packet reviews like the same text -----------------------------------------------------

SCANNED = [
    "neck-axial-pain-xray-first",  # approve
    "lbp-acute-axial-2wk-no-red-flags",  # deny
    "lbp-dialysis-fever-esr-crp-mechanical-history",  # approve, infection red flag from vitals and labs
]


@pytest.mark.parametrize("case_id", SCANNED)
def test_a_scanned_pdf_gets_the_same_decisions_and_red_flags_as_its_text(tmp_path: Path, case_id: str, kb_offline) -> None:
    from agent.review.reviewer import Reviewer

    source = yaml.safe_load((EVALS / f"{case_id}.yaml").read_text())
    scanned = copy.deepcopy(source)
    scanned_pdf(scanned["request"].pop("clinical_notes"), tmp_path / "scan.pdf")
    scanned["request"]["attachments"] = [{"path": "scan.pdf", "title": "faxed clinic note"}]
    (tmp_path / "text.yaml").write_text(yaml.safe_dump(source))
    (tmp_path / "scan.yaml").write_text(yaml.safe_dump(scanned))
    reviewer = Reviewer(kb_offline, retrieve=False)
    as_text, as_scan = load_case(tmp_path / "text.yaml"), load_case(tmp_path / "scan.yaml")
    assert as_scan.request.attachments[0].ocr_pages >= 1
    det_text, det_scan = reviewer.review(as_text), reviewer.review(as_scan)
    decisions = {d.code: d.decision.value for d in det_text.determinations}
    assert decisions == {d.code: d.decision.value for d in det_scan.determinations} == source["expected"]["decisions"]
    assert sorted(det_text.red_flags) == sorted(det_scan.red_flags) == sorted(source["expected"]["red_flags"])
