"""Denial letters drafted from a Determination and its Case.

Every element a line of business requires comes from the Jinja2 templates in ``agent/letters/templates``
(see docs/denial-letters.md); the only generated wording is the specific reason, the
clinical rationale and the missing information, and each of those restates a validated finding of
the determination (criterion label and status, missing documentation, topic and variant titles) in
words from ``templates/plain_language.yaml``. No fact or number is added. Only denied codes are part
of a letter. The letter is a DRAFT until a physician reviewer's signature upholds the denial.

``agent.letters.check.check_letter`` verifies a letter; ``agent.letters.render`` renders it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal, cast

from agent.cases.determination import Determination
from agent.cases.model import Case, Decision, Urgency
from agent.errors import LetterError
from agent.letters import plain
from agent.letters.model import (
    LINES_OF_BUSINESS,
    LOB_RULES,
    TITLES,
    Audience,
    Block,
    CriteriaRef,
    Letter,
    LetterReason,
    LetterSection,
    LineOfBusiness,
    MemberInfo,
    MissingItem,
    Part,
    PlanInfo,
    ProviderInfo,
    Signature,
)
from agent.letters.render import template_env
from agent.store.reviews import ReviewRecord

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
    template = template_env().get_template(f"letter_{audience}.j2")
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


def signature_of(record: ReviewRecord) -> Signature | None:
    """The physician's sign-off of a stored review as a letter signature (None while unsigned)."""
    if record.signoff is None:
        return None
    return Signature.model_validate(record.signoff.model_dump())


def letter_from_record(
    record: ReviewRecord, *, audience: Audience, line_of_business: LineOfBusiness, plan: PlanInfo | None = None
) -> Letter:
    """The one drafting path for a stored review (CLI, API and pages): final once a physician upheld it."""
    return draft_letter(
        record.case,
        record.determination,
        audience=audience,
        line_of_business=line_of_business,
        signature=signature_of(record),
        received_at=record.received_at,
        due_at=record.due_at,
        plan=plan,
    )
