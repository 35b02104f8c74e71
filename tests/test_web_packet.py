"""The workbench's /new with a documentation packet: PDF (text layer or scanned, OCR), page images and text
files become ``request.attachments`` and are reviewed; a document that cannot be read pends the request
("documentation unreadable"), a file of the wrong kind is refused by name. The real browser runs the same
upload in test_web_browser.py."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from scans import scanned_pdf, scanned_png, text_pdf
from web_support import Site, fake_kb, make_site

EVALS = Path(__file__).parent.parent / "evals" / "cases"
DENY = yaml.safe_load((EVALS / "lbp-acute-axial-2wk-no-red-flags.yaml").read_text())
APPROVE = yaml.safe_load((EVALS / "neck-axial-pain-xray-first.yaml").read_text())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return make_site(fake_kb(tmp_path_factory.mktemp("packet-kb")), tmp_path_factory.mktemp("packet-data"))


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[tuple[TestClient, str]]:
    with TestClient(site.app, raise_server_exceptions=False) as c:
        c.get("/login")
        csrf = c.cookies["umreview_csrf"]
        c.post("/login", data={"token": site.tokens["reviewer"], "csrf_token": csrf})
        yield c, csrf


def without_notes(case: dict[str, Any]) -> tuple[str, str]:
    """(the case as YAML without its clinical notes, the notes)."""
    bare = copy.deepcopy(case)
    notes = bare["request"].pop("clinical_notes")
    bare.pop("expected", None)
    return yaml.safe_dump(bare, default_flow_style=False), notes


def post_new(browser: tuple[TestClient, str], files: list[tuple[str, bytes, str]], **fields: str) -> tuple[int, str, str | None]:
    client, csrf = browser
    upload = [("packet", f) for f in files]
    response = client.post("/new", data={"csrf_token": csrf, **fields}, files=upload, follow_redirects=False)
    return response.status_code, response.text, response.headers.get("location")


def stored(site: Site, location: str | None) -> Any:
    assert location and location.startswith("/reviews/R-")
    return site.service.get(location.rsplit("/", 1)[-1])


def test_a_scanned_pdf_packet_instead_of_notes_is_ocrd_and_reviewed(site: Site, browser: Any, tmp_path: Path) -> None:
    text, notes = without_notes(DENY)
    pdf = scanned_pdf(notes, tmp_path / "fax.pdf").read_bytes()
    status, _, location = post_new(browser, [("fax.pdf", pdf, "application/pdf")], case_text=text)
    assert status == 303
    record = stored(site, location)
    (att,) = record.case.request.attachments
    assert att.title == "fax.pdf" and att.ocr_pages >= 1 and not record.case.request.clinical_notes
    assert record.determination.decisions == {k: v for k, v in DENY["expected"]["decisions"].items()}


@pytest.mark.parametrize(
    ("make", "media"),
    [
        (lambda notes, d: text_pdf(notes, d / "note.pdf").read_bytes(), "application/pdf"),
        (lambda notes, d: scanned_png(notes, d / "page.png").read_bytes(), "image/png"),
        (lambda notes, d: notes.encode(), "text/plain"),
    ],
    ids=["text-pdf", "png-scan", "txt"],
)
def test_a_packet_with_the_request_typed_in_the_fields(site: Site, browser: Any, tmp_path: Path, make: Any, media: str) -> None:
    notes = APPROVE["request"]["clinical_notes"]
    name = {"application/pdf": "note.pdf", "image/png": "page.png", "text/plain": "note.txt"}[media]
    status, body, location = post_new(browser, [(name, make(notes, tmp_path), media)], codes="72040", age="47", sex="male")
    assert status == 303, re.sub(r"\s+", " ", body)[:400]
    record = stored(site, location)
    assert record.case.request.codes == ["72040"] and record.case.request.patient.age == 47
    assert record.determination.decisions == {"72040": APPROVE["expected"]["decisions"]["72040"]}


def test_a_packet_beside_typed_notes_adds_to_them(site: Site, browser: Any) -> None:
    text = yaml.safe_dump({k: v for k, v in DENY.items() if k != "expected"})
    status, _, location = post_new(browser, [("pt.txt", b"PT progress note: 2 visits so far.", "text/plain")], case_text=text)
    record = stored(site, location)
    assert status == 303 and record.case.request.clinical_notes and record.case.request.attachments[0].title == "pt.txt"
    assert "=== ATTACHMENT 1: pt.txt ===" in record.case.request.documentation


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("blank.pdf", "blank-scan", "no readable text"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "not a readable PDF"),
        ("empty.txt", b"", "empty"),
    ],
    ids=["blank-scan", "corrupt-pdf", "empty"],
)
def test_an_unreadable_document_pends_the_request(
    site: Site, browser: Any, tmp_path: Path, name: str, content: Any, problem: str
) -> None:
    if content == "blank-scan":
        content = scanned_pdf("", tmp_path / name).read_bytes()
    text, notes = without_notes(DENY)
    files = [("note.txt", notes.encode(), "text/plain"), (name, content, "application/pdf")]
    status, _, location = post_new(browser, files, case_text=text)
    record = stored(site, location)
    assert status == 303
    for d in record.determination.determinations:  # never a decision on the readable part alone
        assert d.decision.value == "refer" and "Documentation unreadable" in d.rationale and name in d.rationale
        assert problem in d.rationale
    page = browser[0].get(location)
    assert "Documentation unreadable" in page.text and name in page.text


@pytest.mark.parametrize(
    ("files", "fields", "message"),
    [
        ([("notes.docx", b"PK\x03\x04", "application/octet-stream")], {"codes": "72148", "age": "50"}, "notes.docx: packet:"),
        ([("note.txt", b"Back pain 3 weeks.", "text/plain")], {}, "Give the procedure codes"),
        ([("note.txt", b"Back pain 3 weeks.", "text/plain")], {"codes": "72148", "age": "fifty"}, "request.patient.age"),
        ([], {}, "Paste a request or choose a file"),
    ],
    ids=["unsupported-type", "no-codes", "bad-age", "nothing"],
)
def test_packet_mistakes_are_named(browser: Any, files: Any, fields: dict[str, str], message: str) -> None:
    status, body, _ = post_new(browser, files, **fields)
    assert status == 422 and message in body


def test_an_unknown_age_refers_where_the_criteria_are_gated_on_age(site: Site, browser: Any) -> None:
    notes = APPROVE["request"]["clinical_notes"]
    status, _, location = post_new(browser, [("note.txt", notes.encode(), "text/plain")], codes="72040", age="")
    record = stored(site, location)
    assert status == 303 and record.case.request.patient.age is None  # unknown, never 0
    (d,) = record.determination.determinations
    assert d.decision.value == "refer" and "age unknown" in d.rationale
