"""Denial letters: required elements per line of business, reading grade, DRAFT until signed, the checker, renderers."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from needs import unavailable
from typer.testing import CliRunner

from agent.cases.determination import CriterionStatus, Determination
from agent.cases.load import load_case
from agent.cases.model import Case, Decision
from agent.cli.main import app
from agent.errors import LetterError
from agent.knowledge.base import KnowledgeBase
from agent.letters.check import GRADE_LIMIT, check_letter, reading_grade, required_elements
from agent.letters.draft import draft_letter
from agent.letters.model import LINES_OF_BUSINESS, Block, Letter, LetterReason, Signature
from agent.letters.readability import sentences, syllables
from agent.letters.render import letter_html, letter_markdown, write_docx, write_pdf
from agent.review.reviewer import Reviewer

EXAMPLE = Path(__file__).parent.parent / "examples" / "cervical-fusion-mid-low-back-burning.yaml"
NOTICE = date(2026, 9, 16)
SIGNED = Signature(
    reviewer="Dr. Ana Lee",
    credentials="MD, board-certified in diagnostic radiology",
    decision="uphold",
    signed_at=datetime(2026, 9, 16, 14, 30, tzinfo=UTC),
)


@pytest.fixture(scope="module")
def reviewed(kb_offline: KnowledgeBase) -> tuple[Case, Determination]:
    case = load_case(EXAMPLE)
    return case, Reviewer(kb_offline, backend="offline", retrieve=False).review(case)


@pytest.fixture(scope="module")
def letters(reviewed: tuple[Case, Determination]) -> dict[tuple[str, str], Letter]:
    case, det = reviewed
    return {
        (audience, lob): draft_letter(case, det, audience=audience, line_of_business=lob, notice_date=NOTICE)  # type: ignore[arg-type]
        for audience in ("member", "provider")
        for lob in LINES_OF_BUSINESS
    }


def _copy(letter: Letter) -> Letter:
    return letter.model_copy(deep=True)


# --- every required element, one row each ---------------------------------------------------------


@pytest.mark.parametrize("element", required_elements("commercial"), ids=lambda e: f"row{e.row or 'design'}-{e.key}")
def test_commercial_member_letter_has_element(letters, reviewed, element) -> None:
    from agent.letters.model import LOB_RULES

    problem = element.check(letters[("member", "commercial")], reviewed[1], LOB_RULES["commercial"])
    assert problem is None, problem


@pytest.mark.parametrize("lob", LINES_OF_BUSINESS)
@pytest.mark.parametrize("audience", ["member", "provider"])
def test_letter_passes_checker(letters, reviewed, audience: str, lob: str) -> None:
    report = check_letter(letters[(audience, lob)], reviewed[1], lob)
    assert report.ok, report.lines()
    assert report.missing_elements == {}
    assert "[Plan name]" in report.placeholders  # default plan details are visible placeholders


@pytest.mark.parametrize("lob", LINES_OF_BUSINESS)
def test_member_reading_grade_at_most_8(letters, lob: str, capsys: pytest.CaptureFixture[str], record_property) -> None:
    grade = reading_grade(letters[("member", lob)].member_text())
    assert grade is not None
    record_property(f"reading_grade_{lob}", round(grade, 1))
    with capsys.disabled():
        print(f"\n  member letter ({lob}): Flesch-Kincaid grade {grade:.1f}")
    assert grade <= GRADE_LIMIT


def test_reading_grade_measures_hard_text() -> None:
    easy = reading_grade("We said no. You can ask us to look again. Call us.")
    hard = reading_grade(
        "Notwithstanding the aforementioned determination, beneficiaries contemplating reconsideration must "
        "substantiate medical necessity through comprehensive documentation of conservative management."
    )
    assert easy is not None and hard is not None and easy < 4 < GRADE_LIMIT < hard


@pytest.mark.parametrize(
    ("word", "count"),
    [("make", 1), ("named", 1), ("needed", 2), ("boxes", 2), ("changes", 2), ("table", 2), ("physician", 3),
     ("imaging", 3), ("appeal", 2), ("recommendation", 5), ("authorization", 5), ("necessity", 4), ("we're", 1)],
)  # fmt: skip
def test_syllables_agree_with_the_pronouncing_dictionary(word: str, count: int) -> None:
    assert syllables(word) == count


def test_list_items_and_paragraphs_end_sentences() -> None:
    assert sentences("We said no\n\n- Call us\n- Write to us") == 3


def test_member_letter_plain_service_names(letters) -> None:
    services = letters[("member", "commercial")].section("services")
    assert services is not None
    text = services.text()
    assert "MRI scan of your lower back (code 72158: pictures of the lower back taken with an MRI machine" in text
    assert "MRI scan of your middle back (code 72157:" in text
    glossary = letters[("member", "commercial")].section("glossary")
    assert glossary is not None and "MRI:" in glossary.text() and "Contrast dye:" in glossary.text()


def test_reasons_come_from_failed_criteria(letters, reviewed) -> None:
    det = reviewed[1]
    letter = letters[("member", "commercial")]
    for r in letter.reasons:
        finding = next(f for f in det.for_code(r.code).criteria if f.criterion_id == r.criterion_id)  # type: ignore[union-attr]
        assert finding.status != CriterionStatus.met and finding.role == "required"
    assert {(r.code, r.criterion_id) for r in letter.reasons} == {
        ("72157", "conservative_care"),
        ("72157", "radicular_findings"),
        ("72158", "conservative_care"),
        ("72158", "candidacy"),
    }
    reason = letter.section("reason").text()  # type: ignore[union-attr]
    assert "At least 6 weeks of treatment" in reason and "surgery or a shot in the spine" in reason
    criteria = letter.section("criteria").text()  # type: ignore[union-attr]
    assert "“ACR Appropriateness Criteria: Low Back Pain”" in criteria and "version 2026.1" in criteria


# --- line-of-business variants --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lob", "sections", "phrases"),
    [
        (
            "commercial",
            {"external_review", "consumer_assistance", "denial_code"},
            ["180 days", "4 months", "502(a)", "Denial code"],
        ),
        (
            "medicare-advantage",
            {"next_steps", "get_help"},
            [
                "65 days",
                "Independent Review Entity (IRE)",
                "1-800-MEDICARE",
                "Member number",
                "Why did we deny your request?",
                "You have the right to appeal our decision",
                "There are two kinds of appeals you can ask for",
            ],
        ),
        (
            "medicaid",
            {"continued_benefits", "fair_hearing"},
            ["60 days", "State fair hearing", "120 days", "10 days", "may have to pay"],
        ),
    ],
)
def test_line_of_business_extras(letters, lob: str, sections: set[str], phrases: list[str]) -> None:
    letter = letters[("member", lob)]
    keys = {s.key for s in letter.sections}
    assert sections <= keys
    others = {
        "external_review",
        "consumer_assistance",
        "denial_code",
        "next_steps",
        "continued_benefits",
        "fair_hearing",
    } - sections
    assert not (others & keys)
    markdown = letter_markdown(letter)
    for phrase in phrases:
        assert phrase in markdown
    assert letter.title in markdown


def test_provider_letter_has_clinical_section(letters) -> None:
    letter = letters[("provider", "commercial")]
    rationale = letter.section("rationale")
    assert rationale is not None and rationale.part == "clinical"
    text = rationale.text()
    assert "At least 6 weeks of documented conservative care (optimal medical management): not documented" in text
    assert "prior surgery is in the cervical region" in text
    assert "Subacute or chronic low back pain without completed management or candidacy" in letter.section("reason").text()  # type: ignore[union-attr]


# --- DRAFT until a physician upholds ---------------------------------------------------------------


def test_unsigned_letter_is_a_draft(letters) -> None:
    letter = letters[("member", "commercial")]
    assert letter.status == "draft"
    assert "DRAFT - not for sending" in letter_markdown(letter)
    html = letter_html(letter)
    assert 'class="watermark"' in html and 'class="banner"' in html
    assert "______" in letter.section("signature").text()  # type: ignore[union-attr]


def test_signed_uphold_is_final_with_signature_block(reviewed) -> None:
    case, det = reviewed
    letter = draft_letter(case, det, signature=SIGNED)
    assert letter.status == "final" and letter.notice_date == date(2026, 9, 16)
    markdown = letter_markdown(letter)
    assert "DRAFT" not in markdown and 'class="watermark"' not in letter_html(letter)
    block = letter.section("signature").text()  # type: ignore[union-attr]
    assert "Dr. Ana Lee" in block and "MD, board-certified in diagnostic radiology" in block and "September 16, 2026" in block
    assert "Dr. Ana Lee" in letter.section("ai_disclosure").text()  # type: ignore[union-attr]
    assert check_letter(letter, det).ok


def test_signed_pdf_has_no_draft_marks(reviewed, tmp_path: Path) -> None:
    from pypdf import PdfReader

    case, det = reviewed
    pdf = write_pdf(draft_letter(case, det, signature=SIGNED), tmp_path / "final.pdf")
    text = "".join(page.extract_text() for page in PdfReader(str(pdf)).pages)
    assert "Dr. Ana Lee" in text and "DRAFT" not in text


def test_signature_accepts_a_stored_signoff_shape() -> None:
    stored = {
        "reviewer": "Dr. B",
        "credentials": "DO",
        "role": "physician",
        "decision": "uphold",
        "at": "2026-09-16T10:00:00Z",
        "changes": {},
    }
    assert Signature.model_validate(stored).signed_at == datetime(2026, 9, 16, 10, tzinfo=UTC)


def test_overturned_denial_gets_no_denial_letter(reviewed) -> None:
    case, det = reviewed
    with pytest.raises(LetterError, match="overturned"):
        draft_letter(case, det, signature=SIGNED.model_copy(update={"decision": "overturn"}))


def test_late_notice_is_reported(reviewed) -> None:
    case, det = reviewed
    received = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
    letter = draft_letter(case, det, received_at=received, due_at=datetime(2026, 9, 8, 9, 0, tzinfo=UTC), notice_date=NOTICE)
    assert "September 1, 2026" in letter.section("header").text()  # type: ignore[union-attr]
    assert "after the decision was due" in check_letter(letter, det).missing_elements["timeliness"]


# --- refusals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("decision", [Decision.approve, Decision.refer])
def test_refuses_without_a_denied_code(reviewed, decision: Decision) -> None:
    case, det = reviewed
    none_denied = det.model_copy(
        update={"determinations": [d.model_copy(update={"decision": decision}) for d in det.determinations]}
    )
    with pytest.raises(LetterError, match="no code is denied"):
        draft_letter(case, none_denied)


def test_approved_code_is_not_in_the_letter(reviewed) -> None:
    case, det = reviewed
    mixed = det.model_copy(
        update={
            "determinations": [det.determinations[0].model_copy(update={"decision": Decision.approve}), det.determinations[1]]
        }
    )
    letter = draft_letter(case, mixed)
    assert letter.denied_codes == ["72158"]
    assert "72157" not in letter.text() and "middle back" not in letter.text()
    assert check_letter(letter, mixed).ok


# --- the checker catches planted problems ----------------------------------------------------------


def test_checker_catches_undefined_acronym(letters, reviewed) -> None:
    letter = _copy(letters[("member", "commercial")])
    letter.section("rationale").blocks.append(Block(kind="p", items=["Your EMG did not show nerve damage."]))  # type: ignore[union-attr]
    report = check_letter(letter, reviewed[1])
    assert report.unexplained_acronyms == ["EMG"]
    assert "plain_language" in report.missing_elements and not report.ok


def test_checker_catches_bare_procedure_code(letters, reviewed) -> None:
    letter = _copy(letters[("member", "commercial")])
    letter.section("services").blocks.append(Block(kind="p", items=["We also looked at 72158."]))  # type: ignore[union-attr]
    assert check_letter(letter, reviewed[1]).bare_codes == ["72158"]


def test_checker_catches_missing_appeal_section(letters, reviewed) -> None:
    letter = _copy(letters[("member", "commercial")])
    letter.sections = [s for s in letter.sections if s.key != "appeal"]
    report = check_letter(letter, reviewed[1])
    assert report.missing_elements["appeal_rights"] == "no 'appeal' section"
    assert not report.ok


def test_checker_catches_reason_not_in_determination(letters, reviewed) -> None:
    letter = _copy(letters[("member", "commercial")])
    letter.reasons.append(
        LetterReason(
            code="72158", criterion_id="smoking", label="Current smoker", status=CriterionStatus.not_met, role="required"
        )
    )
    letter.section("reason").blocks.append(Block(kind="bullets", items=["You smoke, and you had 12 weeks of pain."]))  # type: ignore[union-attr]
    report = check_letter(letter, reviewed[1])
    assert any("'smoking'" in u for u in report.unsupported)
    assert any("number 12" in u for u in report.unsupported)
    assert "consistency" in report.missing_elements


def test_checker_catches_changed_criterion_and_title(letters, reviewed) -> None:
    letter = _copy(letters[("member", "commercial")])
    letter.reasons[0] = letter.reasons[0].model_copy(update={"status": CriterionStatus.met})
    letter.section("criteria").blocks.append(Block(kind="p", items=["We also used “InterQual Imaging 2026”."]))  # type: ignore[union-attr]
    unsupported = check_letter(letter, reviewed[1]).unsupported
    assert any("records not_documented" in u for u in unsupported)
    assert any("InterQual" in u for u in unsupported)


def test_checker_catches_machine_decided_wording(letters, reviewed) -> None:
    letter = _copy(letters[("member", "commercial")])
    letter.section("ai_disclosure").blocks = [Block(kind="p", items=["Our computer program decided to deny your request."])]  # type: ignore[union-attr]
    assert "software made the decision" in check_letter(letter, reviewed[1]).missing_elements["ai_disclosure"]


# --- renderers -----------------------------------------------------------------------------------------


def test_pdf_renders_page_image(letters, tmp_path: Path) -> None:
    pdf = write_pdf(letters[("member", "commercial")], tmp_path / "letter.pdf")
    from pypdf import PdfReader

    reader = PdfReader(str(pdf))
    sizes: set[float] = set()
    text = ""
    for page in reader.pages:
        text += page.extract_text(
            visitor_text=lambda t, cm, tm, font, size: sizes.add(round(size * tm[0], 1)) if t.strip() else None
        )
    assert "Notice of Denial of Coverage" in text and "Your right to appeal" in text and "DRAFT" in text
    assert min(sizes) >= 12, sizes
    if shutil.which("pdftoppm") is None:
        unavailable("pdftoppm (Debian poppler-utils) is not installed; .ci/run installs it")
    subprocess.run(
        ["pdftoppm", "-f", "1", "-l", "1", "-r", "60", "-png", "-singlefile", str(pdf), str(tmp_path / "page1")], check=True
    )
    png = (tmp_path / "page1.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_docx_opens(letters, tmp_path: Path) -> None:
    from docx import Document

    path = write_docx(letters[("provider", "medicaid")], tmp_path / "letter.docx")
    doc = Document(str(path))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "Notice of Adverse Benefit Determination" in text and "State fair hearing" in text and "Clinical rationale" in text
    assert "DRAFT" in doc.sections[0].header.paragraphs[0].text
    assert doc.styles["Normal"].font.size.pt >= 12


# --- command line ---------------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_letter_markdown_with_report() -> None:
    result = runner.invoke(app, ["letter", str(EXAMPLE), "--line-of-business", "medicaid"])
    assert result.exit_code == 0, result.output
    assert "# Notice of Adverse Benefit Determination" in result.stdout
    assert "reading grade" in result.stderr and "elements: 20/20 present" in result.stderr


def test_cli_letter_docx_to_file(tmp_path: Path) -> None:
    out = tmp_path / "letter.docx"
    result = runner.invoke(app, ["letter", str(EXAMPLE), "--format", "docx", "--audience", "provider", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0 and "wrote" in result.stderr


def test_cli_letter_plan_file(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("name: Example Health Plan\nphone: 1-800-555-0100\nunknown_field: 1\n")
    result = runner.invoke(app, ["letter", str(EXAMPLE), "--plan", str(plan)])
    assert result.exit_code == 2 and "unknown_field" in result.stderr and str(plan) in result.stderr
