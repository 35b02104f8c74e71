"""The second reader's evidence, checked deterministically before it may count.

A language model reads the documentation into the same facts as the rules reader, each with a verbatim
quote. A model fact stands only when its evidence checks out:

- the quote is verbatim in the documentation;
- its words name the fact (a red-flag term, a care modality, a planned intervention), found with the
  rules reader's own vocabulary;
- that mention is asserted for the patient now (not negated, a relative's, hypothetical, resolved, or,
  for an acute flag, only historical), read with the section it sits in;
- for conservative care, the dates or durations in the quoted sentence give the weeks claimed.

A verified fact counts even where the rules reader missed it; a refused one never counts, and the
refusal says why. This is what lets the validator check a model's reading instead of out-voting it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.cases.determination import NoteQuote, ReportedFacts, Severity, Violation, ViolationKind
from agent.cases.model import Case
from agent.facts.context import Modifier
from agent.facts.extract import suspected
from agent.facts.model import Evidence
from agent.facts.note import Note, lexicon, read_note
from agent.facts.textspans import Sentence

CARE_TOLERANCE_WEEKS = 0.5  # a claim may round the quoted dates up by half a week
_NOT_PLANNED = {Modifier.NEGATED, Modifier.FAMILY, Modifier.RESOLVED, Modifier.HISTORICAL}


@dataclass
class VerifiedReading:
    """The model facts whose evidence checked out, and why the others were refused."""

    red_flags: dict[str, Evidence] = field(default_factory=dict)
    care_weeks: float | None = None
    care_evidence: list[Evidence] = field(default_factory=list)
    candidacy: Evidence | None = None
    refused: list[Violation] = field(default_factory=list)

    def refuse(self, what: str, why: str) -> None:
        self.refused.append(
            Violation(
                kind=ViolationKind.model_evidence_refused,
                severity=Severity.info,
                message=f"the model's {what} was not counted: {why}",
            )
        )


def _located(note: Note, quote: NoteQuote) -> tuple[int, int] | None:
    if quote.start is not None and quote.end is not None and note.text[quote.start : quote.end] == quote.text:
        return quote.start, quote.end
    start = note.text.find(quote.text) if quote.text.strip() else -1
    return (start, start + len(quote.text)) if start >= 0 else None


def _sentences_in(note: Note, start: int, end: int) -> list[Sentence]:
    return [s for s in note.sentences if s.start < end and start < s.end]


def _why_not(modifiers: frozenset[Modifier]) -> str:
    names = {
        Modifier.NEGATED: "negated",
        Modifier.FAMILY: "about someone else",
        Modifier.HYPOTHETICAL: "hypothetical or planned",
        Modifier.RESOLVED: "resolved",
        Modifier.HISTORICAL: "past history",
    }
    return " and ".join(names[m] for m in sorted(modifiers, key=str) if m in names) or "not asserted"


def _flag_terms(flag: str) -> list[str]:
    spec = lexicon()["red_flags"][flag]
    return [*spec["patterns"], *spec.get("risk_factors", [])]


def verify_flag(note: Note, flag: str, quote: NoteQuote, numeric: set[str]) -> tuple[Evidence | None, str]:
    """The flag's evidence if the quote names it, asserted now; else (None, why)."""
    span = _located(note, quote)
    if span is None:
        return None, "the quote is not verbatim in the documentation"
    start, end = span
    spec = lexicon()["red_flags"][flag]
    mentions = [m for m in note.mentions(f"verify:{flag}", _flag_terms(flag)) if m.start < end and start < m.end]
    chronic = {m.start for m in note.mentions(f"verify:{flag}:risk", spec.get("risk_factors", []))}
    for m in mentions:
        ok = m.asserted or suspected(m)
        if ok and (spec["counts_if_historical"] or m.start in chronic or Modifier.HISTORICAL not in m.modifiers):
            return note.evidence(m.start, m.end, m.sentence), ""
    if flag in numeric:
        return Evidence(quote=note.text[start:end], start=start, end=end, term=flag), ""
    if mentions:
        return None, f"the quoted words are {_why_not(mentions[0].modifiers)}"
    return None, f"the quoted words do not name {flag.replace('_', ' ')}"


def _care_terms() -> list[str]:
    return [p for patterns in lexicon()["conservative_care"].values() for p in patterns]


def verify_care(note: Note, quote: NoteQuote, weeks: float) -> tuple[Evidence | None, str]:
    span = _located(note, quote)
    if span is None:
        return None, "the quote is not verbatim in the documentation"
    start, end = span
    mentions = [m for m in note.mentions("verify:care", _care_terms()) if m.start < end and start < m.end]
    asserted = [m for m in mentions if m.asserted or m.modifiers == {Modifier.HISTORICAL}]
    if not asserted:
        why = f"the treatment is {_why_not(mentions[0].modifiers)}" if mentions else "the quoted words name no treatment"
        return None, why
    given = 0.0
    for sentence in _sentences_in(note, start, end):
        for d in note.durations(sentence):
            given = max(given, note.weeks_as_of_note_date(d))
    if given + CARE_TOLERANCE_WEEKS < weeks:
        return None, f"the quoted dates give {given:g} weeks, not the {weeks:g} claimed"
    m = asserted[0]
    return note.evidence(m.start, m.end, m.sentence), ""


def _candidacy_terms() -> tuple[list[str], list[str]]:
    spec = lexicon()["candidacy"]
    return [*spec["positive"], *spec["naming"]], spec["negative"]


def verify_candidacy(note: Note, quote: NoteQuote) -> tuple[Evidence | None, str]:
    span = _located(note, quote)
    if span is None:
        return None, "the quote is not verbatim in the documentation"
    start, end = span
    positive, negative = _candidacy_terms()
    inside = [m for m in note.mentions("verify:candidacy", positive) if m.start < end and start < m.end]
    usable = [m for m in inside if not (m.modifiers & _NOT_PLANNED)]
    if not usable:
        return None, "the quoted words name no planned injection or surgical referral"
    declined = [m for m in note.mentions("verify:declined", negative) if m.asserted and m.start > usable[0].start]
    if declined:
        return None, "the patient declines it later in the documentation"
    m = usable[0]
    return note.evidence(m.start, m.end, m.sentence), ""


def verify_reading(case: Case, reported: ReportedFacts | None, numeric_flags: set[str] | None = None) -> VerifiedReading:
    """Check every fact the model reported; ``numeric_flags`` are flags the rules read from numbers."""
    verified = VerifiedReading()
    if reported is None:
        return verified
    text = case.request.documentation
    note = read_note(text, case.request.note_date, case.request.patient.age)
    for item in reported.flag_evidence:
        flag = item.flag
        evidence, why = verify_flag(note, flag, item.quote, numeric_flags or set())
        if evidence is not None:
            verified.red_flags.setdefault(flag, evidence)
        else:
            verified.refuse(f"{flag.replace('_', ' ')} flag", why)
    for course in reported.care:
        evidence, why = verify_care(note, course.quote, course.weeks)
        if evidence is not None:
            verified.care_weeks = max(verified.care_weeks or 0.0, course.weeks)
            verified.care_evidence.append(evidence)
        else:
            verified.refuse(f"{course.weeks:g} weeks of {course.modality}", why)
    if reported.candidacy_quote is not None:
        evidence, why = verify_candidacy(note, reported.candidacy_quote)
        if evidence is not None:
            verified.candidacy = evidence
        else:
            verified.refuse("candidacy for intervention", why)
    return verified
