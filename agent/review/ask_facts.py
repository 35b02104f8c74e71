"""Fact questions about a case, answered from the rules reader's reading of the documentation.

Each answer says what the reader found and quotes the words it stands on, with the document, section
and date: weeks and kinds of conservative care (planned apart from done, each course of the care
timeline), symptom onset, where a finding is mentioned, red flags and the mentions that were ruled out
(negated, family, past or resolved), prior surgery and imaging, candidacy. Age, exam, medications,
diagnoses, summaries and planted instructions are in ``agent.review.ask_record``.
"""

from __future__ import annotations

import re
from datetime import timedelta

from agent.cases.model import RED_FLAG_IDS
from agent.facts.context import Modifier
from agent.facts.model import RED_FLAG_LABELS, CareEpisode, Fact, FactStatus, Modality
from agent.facts.note import lexicon
from agent.review.ask_intents import Understanding
from agent.review.ask_model import Answer
from agent.review.ask_sources import SourcedQuote, unique
from agent.review.ask_view import (
    MAX_QUOTES,
    STATUS_WORDS,
    CaseView,
    criterion_lines,
    modality_label,
    reply,
    weeks_text,
)


def _planned(view: CaseView, name: str) -> list[SourcedQuote]:
    """Mentions of a modality that are planned or proposed, not done ("will start PT 2x/wk x 6 wks")."""
    patterns = lexicon()["conservative_care"].get(name, [])
    found = view.sources.note.mentions(f"care:{name}", patterns)
    return [
        view.sources.from_mention(m)
        for m in found
        if Modifier.HYPOTHETICAL in m.modifiers and not m.modifiers & {Modifier.NEGATED, Modifier.FAMILY}
    ]


def modality_lines(view: CaseView, m: Modality) -> tuple[list[str], list[SourcedQuote]]:
    """The modality's line: not received, or its weeks on the care timeline and each course with dates."""
    src = view.sources
    quotes = [src.from_evidence(e, "asserted") for e in m.evidence if not view.injected(e.start, e.end)]
    if m.status == FactStatus.absent:
        return [f"- {modality_label(m.name)}: documented as not received."], [
            q.model_copy(update={"status": "negated"}) for q in quotes
        ]
    cc = view.facts.conservative_care
    courses = [e for e in cc.episodes if e.modality == m.name]
    weeks = cc.weeks_for(modalities=[m.name]) if courses else m.weeks
    lines = [f"- {modality_label(m.name)}: completed or ongoing, {weeks_text(weeks)}."]
    for e in courses:
        lines.append("  course: " + _course(e))
        quotes += [src.from_evidence(x, "asserted") for x in e.evidence if not view.injected(x.start, x.end)]
    return lines, quotes


def _course(e: CareEpisode) -> str:
    """One course of the care timeline in words."""
    if e.started and e.ended:
        when = f"{e.started.isoformat()} to {e.ended.isoformat()}"
    elif e.ended:
        when = f"ending {e.ended.isoformat()}"
    else:
        when = "not placed on the calendar"
    how = "dated in the note" if e.dated else "a stated length"
    where = f", for the {'/'.join(r.value for r in e.regions)} region" if e.regions else ""
    doc = f", stated in a document of {e.document_date.isoformat()}" if e.document_date else ""
    return f"{weeks_text(e.weeks)}, {when} ({how}{where}{doc})"


def care(view: CaseView, u: Understanding, question: str) -> Answer:
    cc = view.facts.conservative_care
    by_name = {m.name: m for m in cc.modalities}
    asked = u.modalities or list(by_name)
    lines: list[str] = []
    quotes: list[SourcedQuote] = []
    for name in asked:
        if name in by_name:
            more, q = modality_lines(view, by_name[name])
            lines += more
            quotes += q
        planned = _planned(view, name)
        if planned:
            lines.append(f"- {modality_label(name)}: planned or proposed, not counted as completed ({len(planned)} mention(s)).")
            quotes += planned
        elif name not in by_name and u.modalities:
            lines.append(f"- {modality_label(name)}: not documented.")
    if not lines:
        lines.append("No conservative care is documented.")
    total = f"Total documented conservative care: {weeks_text(cc.total_weeks)}"
    lines.insert(0, total + " (courses on the calendar: sequential ones add up, concurrent ones do not).")
    quotes += [view.sources.from_evidence(e, "asserted") for e in cc.duration_evidence if not view.injected(e.start, e.end)]
    lines += criterion_lines(view, "conservative_care")
    return reply(u, question, lines, quotes)


def onset(view: CaseView, u: Understanding, question: str) -> Answer:
    fact = view.facts.symptom_weeks
    if fact.status != FactStatus.present or fact.value is None:
        return reply(u, question, ["The documentation gives no onset date or duration for the current symptoms."], [])
    note_date = view.case.request.note_date
    line = f"The current symptoms have lasted about {weeks_text(fact.value)} as of the note date"
    if note_date:
        since = note_date - timedelta(days=round(fact.value * 7))
        line += f" ({note_date.isoformat()}), i.e. since about {since.isoformat()}"
    lines = [line + "."]
    if view.facts.symptom_regions:
        lines.append("Regions named with the symptoms: " + ", ".join(r.value for r in view.facts.symptom_regions) + ".")
    return reply(u, question, lines, [view.sources.from_evidence(e, "asserted") for e in fact.evidence])


def mentions(view: CaseView, u: Understanding, question: str) -> Answer:
    if not u.finding_patterns:
        return reply(u, question, ["Name the finding to look for (for example: which documents mention numbness?)."], [])
    found = view.sources.note.mentions("ask:finding", u.finding_patterns)
    quotes = unique([view.sources.from_mention(m) for m in found])
    if not quotes:
        return reply(u, question, [f"No document mentions '{u.finding}'."], [])
    lines = []
    if u.document_title:
        named = [q for q in quotes if re.search(u.document_title, q.document, re.IGNORECASE)]
        if not named:
            lines.append(f"No document of the kind named mentions '{u.finding}'; other documents do:")
        quotes = named or quotes
    documents = list(dict.fromkeys(q.document for q in quotes))
    lines.append(f"'{u.finding}' is mentioned {len(quotes)} time(s) in {len(documents)} document(s): {'; '.join(documents)}.")
    for q in quotes[:MAX_QUOTES]:
        lines.append(f'- {q.cite()}: "{q.text.strip()}" [{q.status}]')
    return reply(u, question, lines, quotes)


def _flag_mentions(view: CaseView, flag: str) -> tuple[list[SourcedQuote], list[SourcedQuote]]:
    """(counted, ruled out) quotes for one red flag."""
    fact = view.facts.red_flags[flag]
    counted = [view.sources.from_evidence(e, "asserted") for e in fact.evidence]
    spec = lexicon()["red_flags"][flag]
    ruled_out = [
        view.sources.from_mention(m)
        for m in view.sources.note.mentions(flag, spec["patterns"])
        if not m.asserted or (Modifier.HISTORICAL in m.modifiers and not spec["counts_if_historical"])
    ]
    counted_spans = {(q.start, q.end) for q in counted}
    return unique(counted), unique([q for q in ruled_out if (q.start, q.end) not in counted_spans])


def red_flags(view: CaseView, u: Understanding, question: str) -> Answer:
    asked = u.red_flags or list(RED_FLAG_IDS)
    present = view.facts.present_flags()
    lines = [f"Red flags found: {', '.join(present) if present else 'none'}."]
    quotes: list[SourcedQuote] = []
    for flag in asked:
        counted, ruled_out = _flag_mentions(view, flag)
        fact: Fact = view.facts.red_flags[flag]
        if fact.status == FactStatus.present:
            codes = f" (diagnosis codes {', '.join(fact.codes)})" if fact.codes else ""
            lines.append(f"- {flag}: present{codes}: {RED_FLAG_LABELS[flag]}.")
            quotes += counted
        elif ruled_out or u.red_flags:
            lines.append(f"- {flag}: not counted.")
        for q in ruled_out[:3]:
            lines.append(f'  ruled out: "{q.text.strip()}" ({q.cite()}): {q.status}.')
            quotes.append(q)
    for d in view.codes(u):
        bearing = ", ".join(d.red_flags_present) or "none"
        lines.append(f"{d.code} ({d.region}): red flags bearing on this region: {bearing}; recommendation {d.decision.value}.")
    return reply(u, question, lines, quotes)


def prior_surgery(view: CaseView, u: Understanding, question: str) -> Answer:
    surgeries = view.facts.prior_surgery
    quotes = [view.sources.from_evidence(s.evidence, "asserted") for s in surgeries]
    if not surgeries:
        lines = ["No prior spine surgery is documented."]
        negated = [m for m in view.sources.note.mentions("surgery", lexicon()["prior_surgery"]) if not m.asserted]
        quotes = [view.sources.from_mention(m) for m in negated]
    else:
        lines = []
        for s in surgeries:
            when = f", about {weeks_text(s.weeks_ago)} ago" if s.weeks_ago is not None else ""
            lines.append(f"- Prior surgery, region {s.region.value if s.region else 'not stated'}{when}.")
    for d in view.codes(u):
        same = [s for s in surgeries if s.region is not None and s.region.value == d.region]
        other = [s for s in surgeries if s.region is not None and s.region.value != d.region]
        if same:
            lines.append(
                f"{d.code}: surgery at the same region ({d.region}); the post-operative scenario applies "
                "with new or progressing symptoms."
            )
        elif other:
            lines.append(f"{d.code}: the surgery was in another region; it does not make the {d.region} request post-operative.")
    lines += criterion_lines(view, "prior_surgery_same_region")
    return reply(u, question, lines, quotes)


def _fact_answer(view: CaseView, u: Understanding, question: str, fact: Fact, what: str, criterion: str) -> Answer:
    quotes = [view.sources.from_evidence(e, "asserted") for e in fact.evidence]
    quotes += [view.sources.from_evidence(e, "not counted") for e in fact.discounted]
    quotes += [view.sources.from_evidence(e, "contradicts") for e in fact.conflicts]
    lines = [f"{what}: {STATUS_WORDS[fact.status]}."]
    if fact.conflicts:
        lines.append("The documentation also contradicts it (quoted below).")
    lines += [f'- "{q.text.strip()}" ({q.cite()}) [{q.status}]' for q in quotes[:MAX_QUOTES]]
    lines += criterion_lines(view, criterion)
    return reply(u, question, lines, quotes)


def prior_imaging(view: CaseView, u: Understanding, question: str) -> Answer:
    answer = _fact_answer(view, u, question, view.facts.prior_imaging, "Prior imaging", "prior_imaging")
    xr = view.facts.radiographs_degenerative
    if xr.status == FactStatus.present:
        regions = ", ".join(r.value for r in xr.regions) or "region not stated"
        extra = [view.sources.from_evidence(e, "asserted") for e in xr.evidence]
        text = answer.text + f"\nEarlier radiographs show degenerative change ({regions})."
        return answer.model_copy(update={"text": text}).with_quotes([*answer.quotes, *extra])
    return answer


def candidacy(view: CaseView, u: Understanding, question: str) -> Answer:
    return _fact_answer(view, u, question, view.facts.candidacy, "Planned injection or surgery (candidacy)", "candidacy")
