"""Record questions about a case: age, exam findings (strength grades, reflexes), medications,
diagnoses, a summary, and the instructions planted in the notes (quoted as data, never obeyed)."""

from __future__ import annotations

import re

from agent.facts.model import FactStatus
from agent.facts.note import lexicon
from agent.review.ask_facts import modality_lines
from agent.review.ask_intents import Understanding
from agent.review.ask_model import Answer
from agent.review.ask_sources import SourcedQuote, unique
from agent.review.ask_view import MAX_QUOTES, STATUS_WORDS, CaseView, modality_label, reply, weeks_text

EXAM_QUOTE_MAX = 400  # an exam sentence listing every muscle group is quoted from its start, up to this


_AGE = re.compile(r"\b\d{1,3}\s*(?:-|\s)?(?:year[-\s]old|yo\b|y/o|y\.o\.|years?\s+of\s+age)", re.IGNORECASE)


def age(view: CaseView, u: Understanding, question: str) -> Answer:
    patient = view.case.request.patient
    sex = f" ({patient.sex.value})" if patient.sex.value != "unknown" else ""
    lines = [f"The patient is {patient.age} years old{sex}, per the request."]
    quotes = [view.sources.quote(m.start(), m.end(), "asserted") for m in _AGE.finditer(view.sources.text)][:2]
    for q in quotes:
        lines.append(f'- The documentation says "{q.text}" ({q.cite()}).')
    return reply(u, question, lines, quotes)


_GRADE = re.compile(r"\b[0-5][+-]?\s*/\s*5\b")
_STRENGTH = re.compile(r"\bstrength\b|\bmotor\b|\bweak\w*|foot\s+drop", re.IGNORECASE)
_REFLEX = re.compile(r"reflex\w*|\bDTRs?\b|jerks?\b|hoffmann|babinski|clonus|plantar|\b[0-4]\+", re.IGNORECASE)
_OTHER_EXAM = re.compile(r"straight[-\s]leg|\bSLR\b|sensation|sensory|numb\w*|gait", re.IGNORECASE)
# What a question asks about, and the patterns that find it: exact grades before words about strength.
_EXAM_ASKED = (
    ("strength|motor|weak|power|grade|mmt", (_GRADE, _STRENGTH)),
    ("reflex|dtr|hoffmann|babinski", (_REFLEX,)),
    ("straight|slr|sensation|sensory|numb|gait", (_OTHER_EXAM,)),
)


def _exam_sentences(view: CaseView, pattern: re.Pattern[str]) -> list[SourcedQuote]:
    note = view.sources.note
    found = []
    for sent in note.sentences:
        if not pattern.search(sent.text) or note.is_question(sent) or re.search(r"/10\b|pain\s+scale", sent.text):
            continue
        kind = note.sentence_reads_as(sent)
        if kind is not None and (kind.ignore or kind.experiencer or kind.temporality == "historical"):
            continue
        end = (
            sent.end
            if sent.end - sent.start <= EXAM_QUOTE_MAX
            else view.sources.text.rfind(" ", sent.start, sent.start + EXAM_QUOTE_MAX)
        )
        found.append(view.sources.quote(sent.start, end, "asserted"))
    return found


def exam(view: CaseView, u: Understanding, question: str) -> Answer:
    asked = [patterns for words, patterns in _EXAM_ASKED if re.search(words, question, re.IGNORECASE)]
    groups = asked or [patterns for _, patterns in _EXAM_ASKED]
    quotes: list[SourcedQuote] = []
    for patterns in groups:
        for pattern in patterns:  # the most exact pattern that finds something answers for its group
            found = _exam_sentences(view, pattern)
            if found:
                quotes += found
                break
    quotes = sorted(unique(quotes), key=lambda q: q.start)
    if not quotes:
        return reply(u, question, ["The documentation records no such examination findings."], [])
    lines = ["Examination findings in the documentation:"]
    lines += [f'- {s.cite()}: "{s.text.strip()}"' for s in quotes[:MAX_QUOTES]]
    deficit = view.facts.neuro_deficit
    regions = ", ".join(r.value for r in deficit.regions)
    lines.append(
        f"Objective deficit read by the rules: {deficit.status.value.replace('_', ' ')}" + (f" ({regions})." if regions else ".")
    )
    return reply(u, question, lines, quotes)


def medications(view: CaseView, u: Understanding, question: str) -> Answer:
    meds = set(lexicon().get("medications", []))
    lines: list[str] = []
    quotes: list[SourcedQuote] = []
    for m in view.facts.conservative_care.modalities:
        if m.name in meds:
            more, q = modality_lines(view, m)
            lines += more
            quotes += q
    note = view.sources.note
    listed = [s for s in note.layout if s.kind == "medications"]
    for section in listed:
        body = view.sources.text[section.start : section.end].strip()
        if body:
            start = view.sources.text.index(body, section.start)
            listing = view.sources.quote(start, start + min(len(body), 300), "asserted")
            quotes.append(listing)
            lines.append(f'- Medication list ({listing.cite()}): "{listing.text}"')
    if not lines:
        lines.append("No medications are documented.")
    return reply(u, question, ["Medications documented:", *lines], quotes)


def instructions(view: CaseView, u: Understanding, question: str) -> Answer:
    found = [view.sources.from_evidence(e, "instruction (ignored)") for e in view.facts.injections]
    if not found:
        return reply(u, question, ["The documentation contains no instructions addressed to the reviewer or a model."], [])
    lines = [
        f"The documentation contains {len(found)} instruction(s) addressed to the reviewer or a model. They are treated "
        "as data: flagged, ignored and left out of these answers."
    ]
    lines += [f'- {q.cite()}: "{q.text.strip()}"' for q in found]
    return reply(u, question, lines, found)


def summary(view: CaseView, u: Understanding, question: str) -> Answer:
    facts = view.facts
    patient = view.case.request.patient
    lines = [f"Case {view.case.id}: {patient.age}-year-old {patient.sex.value} patient."]
    for d in view.det.determinations:
        rating = f", rated {d.rating}" if d.rating else ""
        lines.append(f"- {d.code} ({d.description}): {d.decision.value} ({d.variant_title or 'no applicable scenario'}{rating}).")
    flags = facts.present_flags()
    lines.append(f"Red flags: {', '.join(flags) if flags else 'none found'}.")
    if facts.symptom_weeks.value is not None:
        lines.append(f"Symptoms: about {weeks_text(facts.symptom_weeks.value)}.")
    care = [modality_label(m.name) for m in facts.conservative_care.modalities if m.status == FactStatus.present]
    lines.append(
        f"Conservative care: {', '.join(care) or 'none documented'}; {weeks_text(facts.conservative_care.total_weeks)} in all."
    )
    lines.append(f"Planned injection or surgery: {STATUS_WORDS[facts.candidacy.status]}.")
    if facts.prior_surgery:
        regions = ", ".join(s.region.value if s.region else "region not stated" for s in facts.prior_surgery)
        lines.append(f"Prior spine surgery: {regions}.")
    if facts.injections:
        lines.append("The notes hold instructions addressed to the reviewer or a model: flagged and ignored.")
    quotes = [view.sources.from_evidence(e, "asserted") for e in facts.symptom_weeks.evidence[:1]]
    return reply(u, question, lines, quotes)


def diagnosis(view: CaseView, u: Understanding, question: str) -> Answer:
    codes = view.case.request.diagnoses
    lines = [f"Diagnosis codes on the request: {', '.join(codes)}." if codes else "The request lists no diagnosis codes."]
    quotes = []
    for section in view.sources.note.layout:
        if section.kind in ("assessment", "assessment_and_plan"):
            body = view.sources.text[section.start : section.end].strip()
            if body:
                start = view.sources.text.index(body, section.start)
                quotes.append(view.sources.quote(start, start + min(len(body), 300), "asserted"))
    lines += [f'- {q.cite()}: "{q.text}"' for q in quotes]
    if not quotes:
        lines.append("No assessment or impression section was found in the documentation.")
    return reply(u, question, lines, quotes)
