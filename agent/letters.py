"""Denial letters drafted from a Determination and its Case.

Every element a line of business requires comes from the Jinja2 templates in ``agent/templates``
(see shared/reference/denial-letters.md); the only generated wording is the specific reason, the
clinical rationale and the missing information, and each of those restates a validated finding of
the determination (criterion label and status, missing documentation, topic and variant titles) in
words from ``templates/plain_language.yaml``. No fact or number is added. Only denied codes are part
of a letter. The letter is a DRAFT until a physician reviewer's signature upholds the denial.

``agent.letter_check.check_letter`` verifies a letter; ``agent.letter_render`` writes PDF and DOCX.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal, cast

from jinja2 import Environment, PackageLoader, StrictUndefined
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from agent import letter_plain as plain
from agent.cases import Case, Decision, Urgency
from agent.determination import CriterionStatus, Determination
from agent.errors import LetterError

Audience = Literal["member", "provider"]
LineOfBusiness = Literal["commercial", "medicare-advantage", "medicaid"]
Part = Literal["member", "clinical", "admin", "translation"]
LINES_OF_BUSINESS: tuple[LineOfBusiness, ...] = ("commercial", "medicare-advantage", "medicaid")
TITLES = {
    "commercial": "Notice of Denial of Coverage",
    "medicare-advantage": "Notice of Denial of Medical Coverage",
    "medicaid": "Notice of Adverse Benefit Determination",
}
DRAFT_BANNER = "DRAFT - not for sending. A physician reviewer must sign this letter and uphold the denial before it is final."


class LobRules(BaseModel):
    """Deadlines a line of business sets (denial-letters.md rows 9-12); the templates and the checker read these."""

    model_config = ConfigDict(frozen=True)
    appeal_days: int
    appeal_clock: str = Field(description="when the appeal clock starts, in the member's words")
    appeal_decision_days: int = 30
    fast_hours: int = 72
    external_review_months: int | None = None
    fair_hearing_days: int | None = None
    continued_benefits_days: int | None = None


LOB_RULES: dict[str, LobRules] = {
    # ERISA 2560.503-1(h)(3)(i): 180 days; ACA 2719 external review: 4 months after the final internal denial.
    "commercial": LobRules(appeal_days=180, appeal_clock="the day you get this letter", external_review_months=4),
    # 42 CFR 422.582: 65 days for a reconsideration; 422.590: 30 days standard pre-service, 72 hours expedited.
    "medicare-advantage": LobRules(appeal_days=65, appeal_clock="the date of this notice"),
    # 42 CFR 438.402(c)(2)(ii): 60 days; 438.408(f): 120 days for a State fair hearing; 438.420: 10 days to keep benefits.
    "medicaid": LobRules(
        appeal_days=60, appeal_clock="the date on this letter", fair_hearing_days=120, continued_benefits_days=10
    ),
}


class Signature(BaseModel):
    """A physician reviewer's sign-off. Other keys of a stored sign-off (role, changes) are ignored and
    ``at`` is read as ``signed_at``, so ``Signature.model_validate(stored_signoff.model_dump())`` works."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    reviewer: str = Field(min_length=1)
    credentials: str = Field(min_length=1, description='e.g. "MD, board-certified in diagnostic radiology"')
    decision: Literal["uphold", "overturn"]
    signed_at: datetime | None = Field(default=None, validation_alias=AliasChoices("signed_at", "at"))
    reason: str | None = None


class PlanInfo(BaseModel):
    """Contact details printed in the letter. Defaults are visible placeholders, reported by the checker."""

    model_config = ConfigDict(extra="forbid")
    name: str = "[Plan name]"
    phone: str = "[plan phone number]"
    tty: str = "711"
    hours: str = "[days and hours]"
    fax: str = "[plan fax number]"
    appeal_address: str = "[appeals mailing address]"
    peer_to_peer_phone: str = "[peer-to-peer phone number]"
    peer_to_peer_within: str = "1 business day"
    consumer_assistance: str = "[state consumer assistance program, phone number]"
    fair_hearing_contact: str = "[state Medicaid agency, phone number and address]"
    denial_code: str = "50"
    denial_code_meaning: str = "we decided the service is not medically necessary under the plan's rules."
    taglines: list[str] = Field(
        default_factory=lambda: [
            "Español: Si habla español, puede recibir ayuda gratis con el idioma. Llame al {phone} (TTY: {tty})."
        ]
    )


class MemberInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "[Member name]"
    member_id: str = "[Member ID]"


class ProviderInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "[Ordering practitioner]"


class Block(BaseModel):
    """A paragraph (one item), a bulleted list, or short lines kept as they are. ``**x**`` marks bold."""

    kind: Literal["p", "bullets", "lines"]
    items: list[str]


class LetterSection(BaseModel):
    key: str
    heading: str
    part: Part
    blocks: list[Block] = Field(default_factory=list)

    def text(self) -> str:
        """Plain text of the blocks (no heading, no bold markers), each item a sentence."""
        items = [i.replace("**", "").strip() for b in self.blocks for i in b.items]
        return "\n".join(i if i[-1:] in ".:?!" else i + "." for i in items if i)


class LetterReason(BaseModel):
    """A criterion of the determination that the letter gives as a reason (or as missing information)."""

    code: str
    criterion_id: str
    label: str
    status: CriterionStatus
    role: str


class CriteriaRef(BaseModel):
    code: str
    topic_title: str | None
    variant_title: str | None
    rating: str | None
    criteria_set: str
    criteria_version: str


class MissingItem(BaseModel):
    code: str
    text: str


class Letter(BaseModel):
    """A drafted denial letter: sections plus the structured findings they were written from."""

    case_id: str
    audience: Audience
    line_of_business: LineOfBusiness
    title: str
    status: Literal["draft", "final"]
    notice_date: date
    received_at: datetime | None = None
    due_at: datetime | None = None
    sections: list[LetterSection]
    denied_codes: list[str]
    reasons: list[LetterReason] = Field(default_factory=list)
    criteria: list[CriteriaRef] = Field(default_factory=list)
    missing_information: list[MissingItem] = Field(default_factory=list)
    signature: Signature | None = None
    plan: PlanInfo = Field(default_factory=PlanInfo)
    drafted_by: str = Field(description="backend kind that drafted the determination: rules or llm")

    @property
    def is_draft(self) -> bool:
        return self.status == "draft"

    def section(self, key: str) -> LetterSection | None:
        return next((s for s in self.sections if s.key == key), None)

    def text(self, parts: tuple[str, ...] | None = None) -> str:
        return "\n".join(s.text() for s in self.sections if parts is None or s.part in parts)

    def member_text(self) -> str:
        """The member-facing plain-language part: what the reading grade is measured on."""
        return self.text(("member",))

    def to_markdown(self) -> str:
        return _env().get_template("letter.md.j2").render(letter=self, banner=DRAFT_BANNER)

    def to_html(self) -> str:
        html_env = _env(autoescape=True)
        html_env.filters["rich"] = _html_inline
        return html_env.get_template("letter.html.j2").render(letter=self, banner=DRAFT_BANNER)

    def to_pdf(self, path: Path | str) -> Path:
        from agent.letter_render import write_pdf

        return write_pdf(self, Path(path))

    def to_docx(self, path: Path | str) -> Path:
        from agent.letter_render import write_docx

        return write_docx(self, Path(path))


def _html_inline(text: str) -> str:
    from markupsafe import Markup, escape

    return Markup(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", str(escape(text))))


@cache
def _env(autoescape: bool = False) -> Environment:
    env = Environment(
        loader=PackageLoader("agent", "templates"),
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["capfirst"] = lambda s: s[:1].upper() + s[1:]
    return env


# --- parsing the rendered template into sections --------------------------------------------------------


def parse_sections(rendered: str) -> list[LetterSection]:
    """Split template output on "§§ key | heading | part" lines into sections of blocks."""
    sections: list[LetterSection] = []
    para: list[str] = []

    def flush() -> None:
        if para and sections:
            sections[-1].blocks.append(Block(kind="p", items=[" ".join(para)]))
        para.clear()

    for raw in rendered.splitlines():
        line = raw.strip()
        if line.startswith("§§"):
            flush()
            key, heading, part = (p.strip() for p in line[2:].split("|"))
            sections.append(LetterSection(key=key, heading=heading, part=cast(Part, part)))  # pydantic checks the value
        elif not line:
            flush()
        elif not sections:
            raise LetterError(f"letter template: text before the first section: {line[:40]!r}")
        elif line.startswith(("- ", "| ")):
            flush()
            kind: Literal["bullets", "lines"] = "bullets" if line[0] == "-" else "lines"
            blocks = sections[-1].blocks
            if blocks and blocks[-1].kind == kind:
                blocks[-1].items.append(line[2:].strip())
            else:
                blocks.append(Block(kind=kind, items=[line[2:].strip()]))
        else:
            para.append(line)
    flush()
    return [s for s in sections if s.blocks]


def _fmt_date(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    text = f"{value:%B} {value.day}, {value.year}"
    if isinstance(value, datetime):
        text += f" at {value:%H:%M}" + (f" {value.tzname()}" if value.tzinfo else "")
    return text


def draft_letter(
    case: Case,
    determination: Determination,
    *,
    audience: Audience = "member",
    line_of_business: LineOfBusiness = "commercial",
    signature: Signature | None = None,
    received_at: datetime | None = None,
    due_at: datetime | None = None,
    plan: PlanInfo | None = None,
    member: MemberInfo | None = None,
    provider: ProviderInfo | None = None,
    notice_date: date | None = None,
) -> Letter:
    """Draft the denial letter for the denied codes of ``determination``.

    Raises ``LetterError`` when no code is denied, when the signature overturns the denial, or when
    the determination is not for ``case``.
    """
    if line_of_business not in LOB_RULES:
        raise LetterError(f"line of business {line_of_business!r}: use one of {', '.join(LINES_OF_BUSINESS)}")
    if audience not in ("member", "provider"):
        raise LetterError(f"audience {audience!r}: use member or provider")
    if determination.case_id != case.id:
        raise LetterError(f"determination is for case {determination.case_id!r}, not {case.id!r}")
    denied = [d for d in determination.determinations if d.decision == Decision.deny]
    if not denied:
        decided = ", ".join(f"{d.code} {d.decision.value}" for d in determination.determinations)
        raise LetterError(f"case {case.id}: no code is denied ({decided}); a denial letter is only for denied codes")
    if signature and signature.decision == "overturn":
        raise LetterError(
            f"case {case.id}: the physician reviewer overturned the denial; send an approval notice, not a denial letter"
        )
    plan = plan or PlanInfo()
    final = signature is not None and signature.decision == "uphold"
    notice = notice_date or (
        signature.signed_at.date() if final and signature and signature.signed_at else datetime.now(UTC).date()
    )
    views = [plain.service_view(d) for d in denied]
    prov = determination.provenance
    context: dict[str, Any] = {
        "lob": line_of_business,
        "R": LOB_RULES[line_of_business],
        "title": TITLES[line_of_business],
        "plan": plan,
        "member": member or MemberInfo(),
        "provider": provider or ProviderInfo(),
        "case_id": case.id,
        "notice_date": _fmt_date(notice),
        "received": _fmt_date(received_at) or "[date received]",
        "due": _fmt_date(due_at),
        "note_date": _fmt_date(case.request.note_date) or "not stated",
        "expedited": case.request.urgency == Urgency.expedited,
        "services": views,
        "other_codes": len(determination.determinations) - len(denied),
        "any_missing": any(v["missing"] for v in views),
        "guidelines": plain.guidelines(denied, views),
        "criteria_set": prov.criteria_set,
        "criteria_version": prov.criteria_version,
        "backend_kind": prov.backend_kind,
        "final": final,
        "sig": signature,
        "signed_on": _fmt_date(signature.signed_at) if signature and signature.signed_at else _fmt_date(notice),
        "glossary": [],
        "send_list": plain.send_list(views),
    }
    template = _env().get_template(f"letter_{audience}.j2")
    first = template.render(**context)
    context["glossary"] = plain.glossary(first)
    sections = parse_sections(template.render(**context))
    return Letter(
        case_id=case.id,
        audience=audience,
        line_of_business=line_of_business,
        title=TITLES[line_of_business],
        status="final" if final else "draft",
        notice_date=notice,
        received_at=received_at,
        due_at=due_at,
        sections=sections,
        denied_codes=[d.code for d in denied],
        reasons=[
            LetterReason(
                code=d.code,
                criterion_id=r["finding"].criterion_id,
                label=r["label"],
                status=r["finding"].status,
                role=r["finding"].role,
            )
            for d, v in zip(denied, views, strict=True)
            for r in v["reasons"]
        ],
        criteria=[
            CriteriaRef(
                code=d.code,
                topic_title=d.topic_title,
                variant_title=d.variant_title,
                rating=d.rating,
                criteria_set=prov.criteria_set,
                criteria_version=prov.criteria_version,
            )
            for d in denied
        ],
        missing_information=[MissingItem(code=d.code, text=m) for d in denied for m in d.missing_documentation],
        signature=signature,
        plan=plan,
        drafted_by=prov.backend_kind,
    )
