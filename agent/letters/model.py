"""A denial letter as data: its sections, the findings it restates, signature, plan, and the lists of
audiences, lines of business and output formats every caller (CLI, API, pages) shares."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from agent.cases.determination import CriterionStatus

Audience = Literal["member", "provider"]
LineOfBusiness = Literal["commercial", "medicare-advantage", "medicaid"]
Part = Literal["member", "clinical", "admin", "translation"]
LINES_OF_BUSINESS: tuple[LineOfBusiness, ...] = ("commercial", "medicare-advantage", "medicaid")
AUDIENCES: tuple[Audience, ...] = ("member", "provider")
LetterFormat = Literal["md", "html", "pdf", "docx"]
MEDIA_TYPES: dict[str, str] = {
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
TITLES = {
    "commercial": "Notice of Denial of Coverage",
    "medicare-advantage": "Notice of Denial of Medical Coverage",
    "medicaid": "Notice of Adverse Benefit Determination",
}
DRAFT_BANNER = "DRAFT - not for sending. A physician reviewer must sign this letter and uphold the denial before it is final."


class LobRules(BaseModel):
    """Deadlines a line of business sets (docs/denial-letters.md rows 9-12); the templates and the checker read these."""

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

    @field_validator("reviewer", "credentials")
    @classmethod
    def _one_line(cls, value: str) -> str:
        # Printed inside letter lines: a line break here could start a forged heading (sign-off refuses
        # them; this also covers a sign-off stored before it did).
        return " ".join("".join(c if c.isprintable() else " " for c in value).split())


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
