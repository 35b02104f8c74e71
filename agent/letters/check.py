"""The letter checker: required elements, reading grade, plain language, and consistency.

``check_letter`` reports, for a letter and the determination it was drafted from:
* the required elements of the line of business (docs/denial-letters.md rows 1-22)
  that are missing, each with the reason;
* the Flesch-Kincaid grade (agent/letters/readability.py) of the member-facing plain-language part;
* acronyms without an explanation and procedure or diagnosis codes without a plain description in
  that part;
* anything the letter states that the determination does not: a reason, criterion, guideline title,
  quotation, code, missing-documentation item or number (row 22);
* placeholders (``[Plan name]``) still waiting for plan details.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, Field

from agent.cases.determination import CriterionStatus, Determination
from agent.cases.model import Decision
from agent.letters.model import LOB_RULES, Letter, LobRules
from agent.letters.readability import reading_grade

GRADE_LIMIT = 8.0
ALL = ("commercial", "medicare-advantage", "medicaid")
CODE_RE = re.compile(r"(?<![\w-])(\d{5}|[A-Z]\d{4}|\d{4}[A-Z])(?![\w-])")
ICD_RE = re.compile(r"(?<![\w.-])([A-TV-Z]\d{2}\.\d{1,4}[A-Z]?)(?![\w.])")
ACRONYM_RE = re.compile(r"\b[A-Z][A-Z0-9]*[A-Z]\b")
VANITY_PHONE_RE = re.compile(r"\d-[A-Z]{3,}\b")  # 1-800-MEDICARE
PLACEHOLDER_RE = re.compile(r"\[[^\]\n]{2,80}\]")
QUOTED_RE = re.compile(r"“([^”]+)”")
NUMBER_RE = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])")
MACHINE_DECIDED_RE = re.compile(
    r"\b(?:algorithm|computer|program|software|AI|model)\b[^.]{0,30}\b(?:decided|made (?:the|this|your) decision)", re.I
)
GENERATED = ("services", "reason", "rationale", "missing")  # sections holding generated wording


class LetterReport(BaseModel):
    """What the checker found; ``ok`` when nothing blocks sending (placeholders aside)."""

    case_id: str
    line_of_business: str
    audience: str
    status: str
    reading_grade: float | None = Field(description="Flesch-Kincaid grade of the member-facing part")
    grade_limit: float = GRADE_LIMIT
    elements_checked: list[str] = Field(default_factory=list)
    missing_elements: dict[str, str] = Field(default_factory=dict, description="element key -> what is missing")
    unexplained_acronyms: list[str] = Field(default_factory=list)
    bare_codes: list[str] = Field(default_factory=list)
    unsupported: list[str] = Field(default_factory=list, description="statements not in the determination")
    placeholders: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        grade_ok = self.reading_grade is None or self.reading_grade <= self.grade_limit
        return grade_ok and not (self.missing_elements or self.unexplained_acronyms or self.bare_codes or self.unsupported)

    def lines(self) -> list[str]:
        grade = "n/a" if self.reading_grade is None else f"{self.reading_grade:.1f}"
        out = [
            f"letter {self.case_id}: {self.audience}, {self.line_of_business}, {self.status.upper()}",
            f"reading grade (member-facing part, Flesch-Kincaid): {grade} (limit {self.grade_limit:g})",
            f"elements: {len(self.elements_checked) - len(self.missing_elements)}/{len(self.elements_checked)} present",
        ]
        out += [f"missing element {k}: {why}" for k, why in self.missing_elements.items()]
        out += [f"unexplained acronym: {a}" for a in self.unexplained_acronyms]
        out += [f"code without a plain description: {c}" for c in self.bare_codes]
        out += [f"not in the determination: {u}" for u in self.unsupported]
        if self.placeholders:
            out.append("placeholders to fill: " + ", ".join(self.placeholders))
        out.append("OK" if self.ok else "NOT OK")
        return out


Check = Callable[[Letter, Determination, LobRules], str | None]


@dataclass(frozen=True)
class Element:
    """One required element: its row in denial-letters.md, the lines of business needing it, its check."""

    key: str
    row: int | None
    title: str
    scope: tuple[str, ...]
    check: Check


def _sec(letter: Letter, key: str) -> str:
    section = letter.section(key)
    return section.text() if section else ""


def _needs(letter: Letter, key: str, *phrases: str) -> str | None:
    text = _sec(letter, key)
    if not text:
        return f"no '{key}' section"
    lacking = [p for p in phrases if p.lower() not in text.lower()]
    return f"'{key}' section lacks {', '.join(repr(p) for p in lacking)}" if lacking else None


def _denied(det: Determination) -> list[str]:
    return [d.code for d in det.determinations if d.decision == Decision.deny]


def _reason(letter: Letter, det: Determination, _: LobRules) -> str | None:
    problem = _needs(letter, "reason")
    if problem:
        return problem
    explained = {r.code for r in letter.reasons} | {c.code for c in letter.criteria if c.rating}
    lacking = [c for c in _denied(det) if c not in explained]
    return f"no specific reason for {', '.join(lacking)}" if lacking else None


def _criteria(letter: Letter, det: Determination, _: LobRules) -> str | None:
    titles = [d.topic_title for d in det.determinations if d.decision == Decision.deny and d.topic_title]
    return _needs(letter, "criteria", *titles, det.provenance.criteria_version)


def _missing_info(letter: Letter, det: Determination, _: LobRules) -> str | None:
    if not any(d.missing_documentation for d in det.determinations if d.decision == Decision.deny):
        return None
    return _needs(letter, "missing")


def _signature(letter: Letter, _: Determination, __: LobRules) -> str | None:
    sig = letter.signature
    if letter.status == "final" and sig:
        return _needs(letter, "signature", sig.reviewer, sig.credentials)
    return _needs(letter, "signature", "Physician reviewer", "Credentials")


def _draft_state(letter: Letter, _: Determination, __: LobRules) -> str | None:
    upheld = letter.signature is not None and letter.signature.decision == "uphold"
    if upheld != (letter.status == "final"):
        return f"status {letter.status} but signature {'upholds' if upheld else 'does not uphold'} the denial"
    return None


def _ai(letter: Letter, _: Determination, __: LobRules) -> str | None:
    text = _sec(letter, "ai_disclosure")
    if not text:
        return "no 'ai_disclosure' section"
    if MACHINE_DECIDED_RE.search(text):
        return "says the software made the decision"
    return None if re.search(r"does not make decisions|makes no decisions", text) else "does not say the program does not decide"


def _timely(letter: Letter, _: Determination, __: LobRules) -> str | None:
    problem = _needs(letter, "header", "request", "Date of this notice")
    if problem:
        return problem
    if letter.due_at and letter.notice_date > letter.due_at.date():
        return f"notice dated {letter.notice_date} after the decision was due ({letter.due_at:%Y-%m-%d %H:%M})"
    return None


def _plain(letter: Letter, _: Determination, __: LobRules) -> str | None:
    grade = reading_grade(letter.member_text())
    if grade is not None and grade > GRADE_LIMIT:
        return f"member-facing reading grade {grade:.1f} > {GRADE_LIMIT:g}"
    bad = unexplained_acronyms(letter) + bare_codes(letter)
    return f"unexplained: {', '.join(bad)}" if bad else None


# Elements checked by phrases in one section: (key, row, title, scope, section, phrases). A phrase may name
# the line of business's deadlines as {r.<field>} (LOB_RULES) and plan details as {p.<field>} (PlanInfo).
# fmt: off
PHRASE_ELEMENTS: tuple[tuple[str, int, str, tuple[str, ...], str, tuple[str, ...]], ...] = (
    ("notice_header", 1, "Notice date, member name and ID, plan", ALL, "header", ("Date of this notice", "Member", "{p.name}")),
    ("recipients", 2, "Sent to the member and the ordering practitioner", ALL, "recipients", ("To:", "Copy to:")),
    ("free_copy", 6, "Criteria and documents free on request", ALL, "criteria", ("free",)),
    ("clinical_rationale", 7, "Clinical rationale applied to the member's records", ALL, "rationale", ()),
    ("appeal_rights", 9, "Appeal rights, deadline and how", ALL, "appeal",
     ("{r.appeal_days} days", "{p.phone}", "{p.appeal_address}", "{p.fax}")),
    ("expedited_appeal", 10, "Expedited appeal", ALL, "expedited", ("{r.fast_hours} hours", "doctor")),
    ("external_review", 11, "External review (ACA)", ("commercial",), "external_review",
     ("external review", "{r.external_review_months} months")),
    ("erisa_suit", 11, "Right to sue under ERISA 502(a)", ("commercial",), "external_review", ("502(a)",)),
    ("fair_hearing", 11, "State fair hearing (Medicaid)", ("medicaid",), "fair_hearing",
     ("State fair hearing", "{r.fair_hearing_days} days")),
    ("ire_alj", 11, "Independent Review Entity and hearing (MA)", ("medicare-advantage",), "next_steps",
     ("Independent Review Entity", "judge")),
    ("continued_benefits", 12, "Continued benefits pending appeal (Medicaid)", ("medicaid",), "continued_benefits",
     ("{r.continued_benefits_days} days", "pay")),
    ("denial_code", 13, "Denial code and its meaning (ACA)", ("commercial",), "denial_code", ("{p.denial_code}", "means")),
    ("codes_on_request", 13, "Diagnosis and treatment codes on request (ACA)", ("commercial",), "denial_code",
     ("diagnosis codes", "treatment codes", "free")),
    ("consumer_assistance", 14, "Consumer assistance program (ACA)", ("commercial",), "consumer_assistance",
     ("{p.consumer_assistance}",)),
    ("peer_to_peer", 15, "Peer-to-peer with the physician reviewer", ALL, "peer_to_peer", ("{p.peer_to_peer_phone}",)),
    ("get_help", 21, "Share with your doctor; plan contact line and TTY", ("medicare-advantage",), "get_help",
     ("{p.phone}", "TTY", "doctor", "1-800-MEDICARE")),
)
# fmt: on


def _phrase_check(section: str, phrases: tuple[str, ...]) -> Check:
    def check(letter: Letter, det: Determination, rules: LobRules) -> str | None:
        return _needs(letter, section, *(p.format(r=rules, p=letter.plan) for p in phrases))

    return check


def _services(letter: Letter, det: Determination, _: LobRules) -> str | None:
    return _needs(letter, "services", *_denied(det))


def _language(letter: Letter, _: Determination, __: LobRules) -> str | None:
    problem = _needs(letter, "language_access", "other languages", "large print")
    return problem or (None if letter.section("taglines") else "no 'taglines' section")


def _consistent(letter: Letter, det: Determination, _: LobRules) -> str | None:
    return "; ".join(unsupported(letter, det)) or None


CUSTOM_ELEMENTS = (
    Element("services_denied", 3, "Services and codes denied", ALL, _services),
    Element("specific_reason", 4, "Specific reason for each denied service", ALL, _reason),
    Element("criteria_named", 5, "Guideline named by title and version", ALL, _criteria),
    Element("missing_information", 8, "What would make the request approvable", ALL, _missing_info),
    Element("reviewer_signature", 16, "Physician reviewer signature block with credentials", ALL, _signature),
    Element("ai_disclosure", 17, "AI-use disclosure; a physician decides", ALL, _ai),
    Element("plain_language", 18, "Plain language: reading grade, acronyms and codes explained", ALL, _plain),
    Element("language_access", 19, "Language access, taglines and other formats", ALL, _language),
    Element("timeliness", 20, "Dates of request and decision; sent on time", ALL, _timely),
    Element("consistency", 22, "Reasons and citations match the determination", ALL, _consistent),
    Element("draft_until_signed", None, "DRAFT until a physician upholds the denial", ALL, _draft_state),
)
ELEMENTS: tuple[Element, ...] = tuple(
    sorted(
        [Element(k, row, title, scope, _phrase_check(sec, ph)) for k, row, title, scope, sec, ph in PHRASE_ELEMENTS]
        + list(CUSTOM_ELEMENTS),
        key=lambda e: e.row or 99,  # the design rule (no row) last
    )
)


def required_elements(line_of_business: str) -> list[Element]:
    return [e for e in ELEMENTS if line_of_business in e.scope]


# --- plain language ---------------------------------------------------------------------------------


def _without_contacts(letter: Letter, text: str) -> str:
    """Plan contact details (addresses, phone numbers) are not acronyms or codes to explain."""
    for value in sorted(letter.plan.model_dump(exclude={"taglines"}).values(), key=lambda v: -len(str(v))):
        if isinstance(value, str) and len(value) > 2:
            text = text.replace(value, " ")
    return VANITY_PHONE_RE.sub(" ", text)


def unexplained_acronyms(letter: Letter) -> list[str]:
    """Acronyms in the member part with no "X (...)", "(X)" or glossary entry."""
    text = _without_contacts(letter, letter.member_text())
    glossary = set(re.findall(r"^([^:\n]+):", _sec(letter, "glossary"), re.M))
    found: list[str] = []
    for acronym in dict.fromkeys(ACRONYM_RE.findall(text)):
        explained = acronym in glossary or re.search(rf"\b{acronym}\s*\(|\({acronym}\)", text)
        if not explained:
            found.append(acronym)
    return found


def bare_codes(letter: Letter) -> list[str]:
    """Procedure or diagnosis codes in the member part not written as "(code X: plain description)"."""
    text = _without_contacts(letter, letter.member_text())
    bare = []
    for regex in (CODE_RE, ICD_RE):
        for match in regex.finditer(text):
            before, after = text[: match.start()], text[match.end() :]
            if not (re.search(r"\(code\s+$", before) and re.match(r":\s+\w+(?:\W+\w+){2,}", after)):
                bare.append(match.group(1))
    return list(dict.fromkeys(bare))


# --- consistency (row 22) ----------------------------------------------------------------------------


def _allowed_text(det: Determination) -> str:
    parts = [det.provenance.criteria_set, det.provenance.criteria_version]
    for d in det.determinations:
        if d.decision != Decision.deny:
            continue
        parts += [
            d.code,
            d.description or "",
            d.topic_title or "",
            d.variant_title or "",
            d.rationale,
            d.alternative_code or "",
            d.alternative_reason or "",
            *d.missing_documentation,
            *d.decision_changing_red_flags,
        ]
        for f in d.criteria:
            parts += [f.label, f.explanation, *(q.text.replace("\n", " ") for q in f.note_quotes)]
            parts += [f.citation.quote] if f.citation else []
        parts += [c.quote for c in d.citations]
    return "\n".join(parts)


def _code_problems(letter: Letter, det: Determination) -> list[str]:
    problems = []
    denied = set(_denied(det))
    for code in letter.denied_codes:
        if code not in denied:
            d = det.for_code(code)
            problems.append(f"code {code} is in the letter but is {d.decision.value if d else 'not in the determination'}")
    problems += [f"denied code {c} is missing from the letter" for c in sorted(denied - set(letter.denied_codes))]
    alternatives = {d.alternative_code for d in det.determinations if d.decision == Decision.deny and d.alternative_code}
    for code in dict.fromkeys(CODE_RE.findall(_without_contacts(letter, letter.text()))):
        if code not in denied | alternatives:
            problems.append(f"code {code} appears but is not a denied code or its alternative")
    return problems


def _finding_problems(letter: Letter, det: Determination) -> list[str]:
    problems = []
    for r in letter.reasons:
        d = det.for_code(r.code)
        finding = next((f for f in (d.criteria if d else []) if f.criterion_id == r.criterion_id), None)
        if finding is None or d is None or d.decision != Decision.deny:
            problems.append(f"reason {r.criterion_id!r} ({r.label}) for {r.code}: no such criterion in the determination")
        elif finding.status == CriterionStatus.met or finding.status != r.status or finding.label != r.label:
            recorded = f"{finding.status.value}: {finding.label}"
            problems.append(f"reason {r.criterion_id!r} for {r.code}: the determination records {recorded}")
    prov = det.provenance
    for c in letter.criteria:
        d = det.for_code(c.code)
        same = d is not None and (d.topic_title, d.variant_title, d.rating) == (c.topic_title, c.variant_title, c.rating)
        if not same or (c.criteria_set, c.criteria_version) != (prov.criteria_set, prov.criteria_version):
            problems.append(
                f"criteria for {c.code} ({c.topic_title}, {c.criteria_set} {c.criteria_version}) differ from the determination"
            )
    for m in letter.missing_information:
        d = det.for_code(m.code)
        if d is None or m.text not in d.missing_documentation:
            problems.append(f"missing-information item for {m.code} is not in the determination: {m.text[:60]!r}")
    return problems


def _text_problems(letter: Letter, det: Determination) -> list[str]:
    allowed = _allowed_text(det)
    problems = [
        f"quoted title or text not in the determination: “{q}”"
        for q in dict.fromkeys(QUOTED_RE.findall(letter.text()))
        if q not in allowed
    ]
    allowed_numbers = set(NUMBER_RE.findall(allowed))
    generated = _without_contacts(letter, "\n".join(_sec(letter, k) for k in GENERATED))
    problems += [
        f"number {n} in the generated wording is not in the determination"
        for n in dict.fromkeys(NUMBER_RE.findall(generated))
        if n not in allowed_numbers
    ]
    return problems


def unsupported(letter: Letter, det: Determination) -> list[str]:
    """Everything in the letter that the determination does not support (row 22)."""
    return _code_problems(letter, det) + _finding_problems(letter, det) + _text_problems(letter, det)


def check_letter(letter: Letter, determination: Determination, line_of_business: str | None = None) -> LetterReport:
    """Check ``letter`` against ``determination`` for ``line_of_business`` (default: the letter's own)."""
    lob = line_of_business or letter.line_of_business
    rules = LOB_RULES[lob]
    elements = required_elements(lob)
    missing: dict[str, str] = {}
    for element in elements:
        problem = element.check(letter, determination, rules)
        if problem:
            missing[element.key] = problem
    return LetterReport(
        case_id=letter.case_id,
        line_of_business=lob,
        audience=letter.audience,
        status=letter.status,
        reading_grade=reading_grade(letter.member_text()),
        elements_checked=[e.key for e in elements],
        missing_elements=missing,
        unexplained_acronyms=unexplained_acronyms(letter),
        bare_codes=bare_codes(letter),
        unsupported=unsupported(letter, determination),
        placeholders=list(dict.fromkeys(PLACEHOLDER_RE.findall(letter.text()))),
    )
