"""Conservative care and prior surgery: the two facts that need durations and regions combined.

Conservative care is counted in weeks of documented treatment: a duration or date range in the
same sentence as a modality (or in a nearby sentence about the treatment, such as a PT "start of
care" line) is that modality's duration; concurrent modalities do not add up, so the total is the
longest one. Planned therapy ("will start PT") is hypothetical and does not count.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from agent.facts.context import Modifier
from agent.facts.model import ConservativeCare, Evidence, FactStatus, Modality, PriorSurgery, Region
from agent.facts.note import Note, rx

NEARBY = 2  # sentences after (and one before) a modality mention that may carry its dates
_PLANNING = re.compile(
    r"(?:candidate|consider\w*|plan\w*|recommend\w*|discuss\w*|pending|scheduled|schedule|refer\w*|evaluat\w*|options?)\b[^.;]{0,40}$",
    re.IGNORECASE,
)


def conservative_care(note: Note, lex: dict[str, Any]) -> ConservativeCare:
    context = rx(lex["care_context"])
    all_care = rx("|".join(p for ps in lex["conservative_care"].values() for p in ps))
    modalities: list[Modality] = []
    duration_evidence: list[Evidence] = []
    conflicts: list[Evidence] = []
    denials = lex.get("care_denied", {})
    for name, patterns in lex["conservative_care"].items():
        mentions = note.mentions(f"care:{name}", patterns)
        denial = denials.get("medications" if name in lex.get("medications", []) else name)
        denied = {m.start for m in mentions if denial and rx("|".join(denial)).search(m.sentence.text)}
        asserted = [m for m in mentions if m.asserted and m.start not in denied]
        if not mentions:
            continue
        if not asserted:
            negated = any(m.modifiers & {Modifier.NEGATED} or m.start in denied for m in mentions)
            if negated:
                evidence = [note.evidence(m.start, m.end, m.sentence) for m in mentions]
                modalities.append(Modality(name=name, status=FactStatus.absent, evidence=evidence[:2]))
            continue
        weeks: float | None = None
        started: date | None = None
        ended: date | None = None
        evidence = [note.evidence(m.start, m.end, m.sentence) for m in asserted]
        # Later text that denies a treatment claimed earlier (copy-forward goes the other way).
        first_claim = min(m.start for m in asserted)
        conflicts += [
            note.evidence(m.start, m.end, m.sentence)
            for m in mentions
            if (Modifier.NEGATED in m.modifiers or m.start in denied) and m.start > first_claim
        ]
        for m in asserted:
            index = note.sentences.index(m.sentence)
            candidates = [(d, m.sentence) for d in note.durations(m.sentence)]
            if not candidates:
                around = note.sentences[max(0, index - 1) : index + NEARBY + 1]
                for sent in around:
                    if sent is m.sentence or not context.search(sent.text):
                        continue
                    if all_care.search(sent.text) and sent is not m.sentence and _other_modality(sent.text, patterns, all_care):
                        continue
                    candidates += [(d, sent) for d in note.durations(sent)]
            if candidates:
                d, sent = min(candidates, key=lambda c: abs(c[0].start - m.start))
                if weeks is None or d.weeks > weeks:
                    weeks = d.weeks
                    # "10 weeks of PT from 01/05 to 03/16": the dates of the course are in a sibling mention
                    dated = d if d.end_date else next((c for c, at in candidates if at is sent and c.end_date), None)
                    started = dated.start_date if dated else None
                    ended = dated.end_date if dated else note.written_on(d.start)
                duration_evidence.append(note.evidence(d.start, d.end, sent))
        modalities.append(
            Modality(
                name=name,
                status=FactStatus.present,
                weeks=_round(weeks),
                evidence=evidence[:3],
                started=started,
                ended=ended,
            )
        )
    present = [m for m in modalities if m.status == FactStatus.present]
    timed = [m.weeks for m in present if m.weeks is not None]
    if present:
        status = FactStatus.present
    elif modalities:
        status = FactStatus.absent
    else:
        status = FactStatus.not_documented
    return ConservativeCare(
        status=status,
        modalities=modalities,
        total_weeks=_round(max(timed)) if timed else None,
        duration_evidence=list({(e.start, e.end): e for e in duration_evidence}.values())[:4],
        conflicts=list({(e.start, e.end): e for e in conflicts}.values())[:4],
    )


def _other_modality(text: str, own: list[str], all_care: re.Pattern[str]) -> bool:
    """True when the sentence names a different modality (its dates belong to that one)."""
    own_rx = re.compile("|".join(own), re.IGNORECASE)
    return any(not own_rx.search(m.group(0)) for m in all_care.finditer(text))


def _round(weeks: float | None) -> float | None:
    return None if weeks is None else round(weeks, 1)


def prior_surgeries(note: Note, lex: dict[str, Any]) -> list[PriorSurgery]:
    found: list[PriorSurgery] = []
    for m in note.mentions("prior_surgery", lex["prior_surgery"]):
        if not m.asserted:
            continue
        before = note.text[max(m.sentence.start, m.start - 60) : m.start]
        if _PLANNING.search(before):
            continue  # "candidate for lumbar fusion" is a plan, not a history
        region = _surgery_region(note, m.start, m.end, m.sentence, lex, rx)
        weeks_ago = None
        for d in note.durations(m.sentence):
            tail = note.text[d.end : d.end + 12].lower()
            if d.kind == "ago" or "after" in tail or "post" in tail:
                weeks_ago = round(d.weeks, 1)
        found.append(PriorSurgery(region=region, evidence=note.evidence(m.start, m.end, m.sentence), weeks_ago=weeks_ago))
    return found


# "MRI lumbar", "MRI of the lumbar spine", "lumbar MRI": the region of an imaging order, not of a surgery.
_IMAGING_BEFORE = re.compile(r"(?:MRI|CT|XR|x-?rays?|radiographs?|films?|imaging|scan)\s+(?:of\s+)?(?:the\s+)?$", re.I)
_IMAGING_AFTER = re.compile(r"^\s*(?:spine\s+)?(?:MRI|CT|XR|x-?rays?|radiographs?|films?|imaging|scan)\b", re.I)


def _surgery_region(note: Note, start: int, end: int, sentence: Any, lex: dict[str, Any], rx: Any) -> Region | None:
    best: tuple[int, Region] | None = None
    for region, patterns in lex["surgery_regions"].items():
        for m in rx("|".join(patterns)).finditer(sentence.text):
            pos = sentence.start + m.start()
            inside = start <= pos < end
            if not inside and (
                _IMAGING_BEFORE.search(sentence.text[max(0, m.start() - 25) : m.start()])
                or _IMAGING_AFTER.search(sentence.text[m.end() : m.end() + 20])
            ):
                continue
            distance = 0 if inside else min(abs(pos - start), abs(pos - end))
            if best is None or distance < best[0]:
                best = (distance, Region(region))
    return best[1] if best else None
