"""The deterministic clinical-fact extractor: lexicon (data) + ConText + durations.

Reads only the note, the note date and the patient's age; returns ClinicalFacts where every
present fact carries verbatim quotes with exact spans. Negated, family-history, hypothetical and
resolved mentions are kept as ``discounted`` evidence and never count (a history of cancer does).
This is the validator's independent channel: it never reads an LLM's draft.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from agent.cases.model import RED_FLAG_IDS, Case
from agent.facts.care import conservative_care, prior_surgeries
from agent.facts.codes import flag_codes
from agent.facts.context import Mention, Modifier
from agent.facts.criteria_facts import supplement
from agent.facts.durations import dated_long_before, find_dates
from agent.facts.model import ClinicalFacts, Evidence, Fact, FactStatus, Region
from agent.facts.note import Note, lexicon, read_note, rx
from agent.facts.textspans import Sentence

EXTRACTOR = "rules:extract-1"


_SUSPICION = re.compile(
    r"suspect|concern|possible|possibly|probable|likely|worr|cannot\s+be\s+(?:excluded|ruled)|question\s+of", re.I
)


def suspected(mention: Mention) -> bool:
    """A clinician's suspicion ("possible early cauda equina") is a red flag; "rule out X" alone is not."""
    hypothetical = [text for category, text in mention.triggers if category == Modifier.HYPOTHETICAL]
    others = mention.modifiers - {Modifier.HYPOTHETICAL, Modifier.HISTORICAL}
    return bool(hypothetical) and not others and all(_SUSPICION.search(t) for t in hypothetical)


def counts(mention: Mention, *, historical_ok: bool = True, suspicion_ok: bool = False) -> bool:
    ok = mention.asserted or (suspicion_ok and suspected(mention))
    return ok and (historical_ok or Modifier.HISTORICAL not in mention.modifiers)


def fact_from(
    note: Note, mentions: list[Mention], *, historical_ok: bool = True, suspicion_ok: bool = False, detail: str | None = None
) -> Fact:
    """present if any mention counts; absent if one is negated or resolved; else not documented."""
    pos = [m for m in mentions if counts(m, historical_ok=historical_ok, suspicion_ok=suspicion_ok)]
    neg = [m for m in mentions if m not in pos]
    if pos:
        status = FactStatus.present
    elif any(m.modifiers & {Modifier.NEGATED, Modifier.RESOLVED} for m in neg):
        status = FactStatus.absent
    else:
        status = FactStatus.not_documented
    return Fact(
        status=status,
        evidence=_dedupe(note.evidence(m.start, m.end, m.sentence) for m in pos),
        discounted=_dedupe(note.evidence(m.start, m.end, m.sentence) for m in neg),
        detail=detail,
    )


def _dedupe(items: Iterable[Evidence]) -> list[Evidence]:
    seen: dict[tuple[int, int], Evidence] = {}
    for e in items:
        seen.setdefault((e.start, e.end), e)
    return list(seen.values())


def _add_evidence(fact: Fact, evidence: list[Evidence]) -> None:
    if evidence:
        fact.status = FactStatus.present
        fact.evidence = _dedupe([*fact.evidence, *evidence])


def _red_flags(note: Note, lex: dict[str, Any]) -> dict[str, Fact]:
    flags = {}
    for flag in RED_FLAG_IDS:
        spec = lex["red_flags"][flag]
        mentions = note.mentions(flag, spec["patterns"])
        if spec.get("not_in_sentence"):  # "motorcycle accident 1998, no spine injury": said not to bear on the spine
            excluded = rx(spec["not_in_sentence"])
            mentions = [m for m in mentions if not excluded.search(m.sentence.text)]
        if spec.get("last_exposure"):
            mentions = [m for m in mentions if not _last_exposure_remote(note, m, spec)]
        if spec.get("remote_event"):  # "a motor vehicle accident on October 4, 2000"
            mentions = [m for m in mentions if not _remote_event(note, m, spec)]
        if spec.get("weight_loss_explained"):  # "a 20-pound weight loss on Nutri-Systems in 1995"
            explained = rx(spec["weight_loss_explained"])
            unexplained = rx(spec["weight_loss_unexplained"])
            lost = rx(spec["weight_loss"])
            mentions = [
                m
                for m in mentions
                if not (lost.search(m.text) and explained.search(m.sentence.text) and not unexplained.search(m.sentence.text))
            ]
        if spec.get("settled_deficit"):
            mentions = [m for m in mentions if not _settled_deficit(note, m, spec, lex)]
        if spec.get("unmeasured_fever") and _measured_afebrile(note, lex["vitals"]):
            mentions = [m for m in mentions if not _unmeasured_fever(m, spec)]
        if not spec["counts_if_historical"]:  # "OPERATIVE REPORT - date of surgery 06/14/2018: ... cauda equina"
            mentions = [m for m in mentions if not _old_document(note, m.start, lex)]
        fact = fact_from(note, mentions, historical_ok=spec["counts_if_historical"], suspicion_ok=True)
        # Chronic risk factors (dialysis, transplant drugs, HIV, osteoporosis, long-term steroids) are
        # current while listed in the history; only a resolved one ("in remission", "resolved") is not.
        risks = note.mentions(f"{flag}:risk", spec.get("risk_factors", []))
        if spec.get("remote_event"):  # "rituximab 2008, complete remission 2009": a course long over
            risks = [m for m in risks if not _remote_event(note, m, spec)]
        if spec.get("never_taken"):  # "etanercept: NEVER STARTED" anywhere: none of its mentions counts
            risks = [m for m in risks if not _never_taken(note, m.text, spec["never_taken"])]
        chronic = fact_from(note, risks, historical_ok=True)
        if chronic.status == FactStatus.present:
            _add_evidence(fact, chronic.evidence)
        flags[flag] = fact
    return flags


def _old_document(note: Note, pos: int, lex: dict[str, Any]) -> bool:
    """The text at ``pos`` belongs to a document dated ``old_document_days`` or more before the note
    (an outside operative report from 2018): what it found then is history now."""
    return _written_before(note, pos, lex["old_document_days"])


def _written_before(note: Note, pos: int, days: int) -> bool:
    """The document holding ``pos`` is dated at least ``days`` before the note."""
    written = note.written_on(pos)
    return written is not None and note.note_date is not None and (note.note_date - written).days >= days


def _dated_remote(note: Note, text: str, spec: dict[str, Any], *, year_written: bool = False) -> bool:
    """Every date written in ``text`` is at least ``remote_after_days`` before the note."""
    return dated_long_before(text, note.note_date, spec["remote_after_days"], year_written=year_written)


def _remote_event(note: Note, mention: Mention, spec: dict[str, Any]) -> bool:
    """An event (``remote_event``: a crash, a fall) whose sentence dates it, year written, long before the note."""
    if not rx(spec["remote_event"]).search(mention.text):
        return False
    text = mention.sentence.text
    if spec.get("remote_unless") and rx(spec["remote_unless"]).search(text):
        return False
    if spec.get("remote_by_age") and rx(spec["remote_by_age"]).search(text):
        return True
    ages = [int(a) for m in rx(spec.get("age_then", r"(?!)")).finditer(text) for a in m.groups() if a]
    if ages and note.age is not None and all(a <= note.age - 2 for a in ages):
        return True
    return _dated_remote(note, text, spec, year_written=True)


def _settle_resolved_fever(note: Note, lex: dict[str, Any], infection: Fact) -> None:
    """A febrile illness the note says is over ("fevers stopped by 01/10", "no fevers since early
    February") with no febrile reading now: its fever words, and the readings and labs of earlier
    documents or dates, are history, not a spinal infection now (``fever_resolved`` in the lexicon)."""
    spec = lex["red_flags"]["infection"]
    if infection.codes or not any(m.asserted for m in note.mentions("fever_resolved", [spec["fever_resolved"]])):
        return
    recent_days = spec["resolved_recent_days"]
    limits = lex["vitals"]

    def old(evidence: Evidence) -> bool:
        return _written_before(note, evidence.start, recent_days) or dated_long_before(
            evidence.quote, note.note_date, recent_days
        )

    numeric = rx(r"^(?:T\b|temp|Tmax|febrile\s+to|ESR|CRP|sed|WBC|white|leukocyt)")
    readings = rx(_TEMP).finditer(note.text)
    if any(_febrile(m, limits) and not old(note.evidence(m.start(), m.end())) for m in readings):
        return  # febrile now
    fever_words = rx(spec["patterns"][0])
    kept: list[Evidence] = []
    dropped: list[Evidence] = []
    for evidence in infection.evidence:
        term = evidence.term or ""
        resolved = fever_words.fullmatch(term) is not None or (numeric.search(term) is not None and old(evidence))
        (dropped if resolved else kept).append(evidence)
    if dropped:
        infection.evidence = kept
        infection.discounted = _dedupe([*infection.discounted, *dropped])
        if not kept:
            infection.status = FactStatus.not_documented


def _febrile(m: re.Match[str], limits: dict[str, float]) -> bool | None:
    """A temperature reading (``_TEMP`` match): febrile or not; None outside a plausible range."""
    value, unit = float(m.group(1)), (m.group(2) or "").upper()
    if not 35 <= value <= 110:
        return None
    return value >= limits["fever_f"] if (unit == "F" or value > 50) else value >= limits["fever_c"]


def _settled_deficit(note: Note, mention: Mention, spec: dict[str, Any], lex: dict[str, Any]) -> bool:
    """A foot drop its own sentence calls stable and old, or mild: not a severe or progressive deficit."""
    if not rx(spec["settled_deficit"]).match(mention.text):
        return False
    before = mention.sentence.text[: mention.start - mention.sentence.start]
    text = mention.sentence.text
    remote = dated_long_before(text, note.note_date, lex["settled_after_days"], year_written=True)
    remote = remote and not rx(lex["new_deficit"]).search(text)
    return _stable_deficit(text, lex) or bool(rx(spec["mild_before"]).search(before)) or remote


def _temperatures(note: Note, limits: dict[str, float]) -> list[bool]:
    """Each temperature the note records (in a plausible range): febrile or not."""
    return [reading for m in rx(_TEMP).finditer(note.text) if (reading := _febrile(m, limits)) is not None]


def _measured_afebrile(note: Note, limits: dict[str, float]) -> bool:
    """The note measured the temperature ("T 37.4", "Temp 98.6 F", "afebrile") and never found a fever."""
    temps = _temperatures(note, limits)
    return not any(temps) and (bool(temps) or bool(re.search(r"\bafebrile\b", note.text, re.IGNORECASE)))


def _unmeasured_fever(mention: Mention, spec: dict[str, Any]) -> bool:
    """ "Subjective fevers", "a low-grade fever": a fever word its own words say was not measured as one."""
    if not re.match(r"fever|febrile|pyrexia", mention.text, re.IGNORECASE):
        return False
    before = mention.sentence.text[: mention.start - mention.sentence.start]
    return bool(rx(spec["unmeasured_fever"]).search(before))


def _last_exposure_remote(note: Note, mention: Mention, spec: dict[str, Any]) -> bool:
    """The sentence dates the last exposure ("Last IV heroin use 01/2020") long enough before the
    note: history, not a current risk."""
    last = rx(spec["last_exposure"]).search(mention.sentence.text)
    return last is not None and _dated_remote(note, mention.sentence.text[last.start() :], spec)


_TEMP = r"\b(?:T|temp(?:erature)?|Tmax|febrile\s+to)\s*[:=]?\s*(\d{2,3}(?:\.\d+)?)\s*°?\s*([CF])?\b"
_LAB = r"\b(ESR|CRP|sed\s+rate)\s*(?:of|was|is|:|=)?\s*(\d+(?:\.\d+)?)\s*(mg/dL|mg/L|mm/h(?:r)?)?"
_PVR = r"\b(?:post[-\s]?void\s+residual|PVR)\s*(?:of|was|is|:|=)?\s*(?:~|approximately\s+)?(\d{2,4})\s*(?:mL|ml|cc)"
_GRADE = r"\b([0-5])([+-])?\s*/\s*5\b"
_NOT_STRENGTH = r"^\s*(?:\w+\s+)?(?:reflex\w*|DTRs?|jerks?|scale|grading|grade\b|system)"  # "3/5 reflexes", "0/5 scale"
_NOT_A_GRADE_BEFORE = (
    r"(?:\b(?:p|pg|pp|page|sheet)\.?|\b(?:ED|ER|UC|seen|visit|dated|on|since|from|until)"
    r"|\b(?:score|subscale|scale|item|total|questionnaire)\b[^.;\n]{0,12})\s*$"
)
_NOT_TRUE_WEAKNESS = (
    r"^[^.;]{0,25}?(?:give[-\s]?way|breakaway|(?:pain|effort)[-\s]limited"
    r"|limited\s+by\s+(?:\w+\s+)?pain|poor\s+effort|due\s+to\s+pain)"
)
_LEG = r"ankle|foot|toe|EHL|\bTA\b|tibialis|dorsiflex|plantar|quad|hip|knee|leg|\bLE\b|\bLLE\b|\bRLE\b|gastroc|hamstring"
_ARM = r"deltoid|biceps|triceps|wrist|grip|finger|intrinsic|hand|arm|elbow|shoulder|\bUE\b|\bLUE\b|\bRUE\b|interossei"


def _numeric_flags(note: Note, lex: dict[str, Any], flags: dict[str, Fact], deficit: Fact) -> None:
    """Red flags that live in vitals, labs and exam numbers rather than in words."""
    limits = lex["vitals"]
    found: dict[str, list[Evidence]] = {}
    for sent in note.sentences:
        if _negated_sentence(note, sent) or not note.states_findings(sent):
            continue
        if _old_document(note, sent.start, lex):
            continue  # an attached record from years ago: its temperature, reflexes and grades are history
        for flag, evidence in _vitals_and_labs(note, sent, limits):
            found.setdefault(flag, []).append(evidence)
        for flag, evidence in _reflex_grades(note, sent):
            found.setdefault(flag, []).append(evidence)
        for grade, evidence, region in [*_motor_grades(note, sent), *_side_by_side_grades(note, sent)]:
            if _long_settled(note, sent.text, lex):
                continue  # "R supraspinatus 4+/5 (unchanged since 2004)": an old deficit, not this problem's
            deficit.regions = sorted({*deficit.regions, *([region] if region else [])})
            _add_evidence(deficit, [evidence])
            if grade <= limits["red_flag_motor_grade"] and not _stable_deficit(sent.text, lex):
                found.setdefault("progressive_neuro_deficit", []).append(evidence)
    if note.age is not None and note.age >= lex["fall_age"]:
        for mention in note.mentions("fall", lex["fall_patterns"]):
            if mention.asserted and not rx(lex["fall_denied"]).search(mention.sentence.text):
                found.setdefault("fracture", []).append(note.evidence(mention.start, mention.end, mention.sentence))
    for flag, items in found.items():
        _add_evidence(flags[flag], items)


def _drop_long_settled(note: Note, lex: dict[str, Any], deficit: Fact) -> None:
    """Deficits their sentence calls unchanged for years are not findings of the complaint under review."""
    settled = [e for e in deficit.evidence if _long_settled(note, e.quote, lex)]
    if settled:
        deficit.evidence = [e for e in deficit.evidence if e not in settled]
        deficit.discounted = _dedupe([*deficit.discounted, *settled])
        if not deficit.evidence:
            deficit.status = FactStatus.not_documented
            deficit.regions = []


def _long_settled(note: Note, text: str, lex: dict[str, Any]) -> bool:
    """A deficit its sentence calls unchanged for a year or more (a year written, "for years", an old
    injury): neither progressive nor a finding of the complaint under review."""
    if not _stable_deficit(text, lex):
        return False
    long_ago = dated_long_before(text, note.note_date, lex["settled_after_days"], year_written=True)
    return long_ago or bool(rx(lex["long_settled"]).search(text))


def _stable_deficit(text: str, lex: dict[str, Any]) -> bool:
    """ "Left EHL 3/5, unchanged for years": a known deficit, not a new or progressive one."""
    return bool(rx(lex["stable_deficit"]).search(text)) and not rx(lex["new_deficit"]).search(text)


def _vitals_and_labs(note: Note, sent: Sentence, limits: dict[str, float]) -> list[tuple[str, Evidence]]:
    """(flag, evidence) for a febrile temperature, raised ESR/CRP, or a large post-void residual."""
    found: list[tuple[str, Evidence]] = []
    if dated_long_before(sent.text, note.note_date, int(limits["stale_after_days"])):
        return found  # "Rheumatology 08/12/2025: ... (ESR 64)": an old result
    for m in rx(_TEMP).finditer(sent.text):
        if _febrile(m, limits):
            found.append(("infection", _ev(note, sent, m)))
    for m in rx(_LAB).finditer(sent.text):
        name, value, unit = m.group(1).upper(), float(m.group(2)), (m.group(3) or "").lower()
        if name.startswith(("ESR", "SED")):
            high = value > limits["esr_high"]
        else:
            high = (value * 10 if unit == "mg/dl" else value) > limits["crp_high_mg_l"]
        if high:
            found.append(("infection", _ev(note, sent, m)))
    for m in rx(_PVR).finditer(sent.text):
        if float(m.group(1)) >= limits["pvr_retention_ml"]:
            found.append(("cauda_equina", _ev(note, sent, m)))
    return found


def _motor_grades(note: Note, sent: Sentence) -> list[tuple[int, Evidence, Region | None]]:
    """Manual muscle test grades below 5/5 (not pain scores), with the limb's region if named."""
    found = []
    for m in rx(_GRADE).finditer(sent.text):
        grade = int(m.group(1))
        window = sent.text[max(0, m.start() - 40) : m.end() + 25]
        after = sent.text[m.end() : m.end() + 20]
        if grade >= 5 or re.search(r"pain|/10", window, re.IGNORECASE) or re.search(_NOT_STRENGTH, after, re.IGNORECASE):
            continue
        at = sent.start + m.start()
        if re.search(_NOT_A_GRADE_BEFORE, note.text[max(0, at - 24) : at], re.IGNORECASE):
            continue  # "P. 1/5" (a fax page), "(ED 3/5)" (a date), "subscale 1/5" (a questionnaire score)
        if re.search(_NOT_TRUE_WEAKNESS, sent.text[m.end() : m.end() + 45], re.IGNORECASE):
            continue  # "3/5 L, give-way, limited by buttock pain": pain-limited effort, not a motor deficit
        if _postural_muscle(sent.text[: m.start()]):
            continue  # "lower trapezius 4-/5": a trunk or scapular muscle tested in therapy, not a nerve's
        found.append((grade, _ev(note, sent, m), _limb_region(window)))
    return found


def _postural_muscle(before: str) -> bool:
    """The muscle named just before a grade (since the last grade, comma or semicolon) is a trunk,
    core or scapular muscle (``postural_muscles`` in the lexicon)."""
    pieces = re.split(r"[,;]|\b[0-5][+-]?\s*/\s*5\b", before[-60:])
    for piece in reversed(pieces):  # "trapezius 4-/5 R, 4/5 L": the second grade is the same muscle's
        if re.sub(r"\b(?:r|l|right|left|bilat\w*|both|sides?|and)\b|[^a-z]", "", piece.lower()):
            return bool(rx(lexicon()["postural_muscles"]).search(piece))
    return False


_MUSCLE = (
    rf"(?:{_LEG}|{_ARM}|flexors?|extensors?|abductors?|adductors?|peronei|peroneus|gluteus|iliopsoas|EDL|FDP|APB|"
    r"dorsiflexion|plantarflexion|grip)"
)
_SIDE_BY_SIDE = rf"(?P<muscle>{_MUSCLE})[^.;:,\d|\"]{{0,20}}?[:\s]\s*(?P<right>[0-5])[+-]?\s*/\s*(?P<left>[0-4])[+-]?(?![\d/])"
_REFLEX_GRADE = r"(?<![\d/])(?P<grade>[34])\+(?!\s*/\s*5)(?:\s*/\s*[0-4]\+?)?"


def _side_by_side_grades(note: Note, sent: Sentence) -> list[tuple[int, Evidence, Region | None]]:
    """Right/left strength written side by side after the muscle ("Tibialis anterior 2/2-", "Hip
    abductors 3+/3+"): the weaker side's grade. A "/5" denominator is read by ``_motor_grades``."""
    if re.search(r"reflex|DTR|jerk|patellar|achilles|brachioradialis", sent.text, re.IGNORECASE):
        return []
    found = []
    for m in re.finditer(_SIDE_BY_SIDE, sent.text, re.IGNORECASE):
        grade = min(int(m.group("right")), int(m.group("left")))
        if grade < 5:
            found.append((grade, _ev(note, sent, m), _limb_region(m.group("muscle"))))
    return found


def _reflex_grades(note: Note, sent: Sentence) -> list[tuple[str, Evidence]]:
    """Reflex grades of 3+ or 4+ in a sentence about reflexes ("Reflexes: 3+/3 throughout") are
    hyperreflexia (myelopathy)."""
    section = note.section_at(sent.start)
    in_reflex_section = section is not None and re.search(r"reflex|DTR", section.heading, re.IGNORECASE)
    found = []
    for m in re.finditer(_REFLEX_GRADE, sent.text):
        near = sent.text[max(0, m.start() - 30) : m.end() + 30]
        if in_reflex_section or re.search(r"reflex|DTR|jerk", near, re.IGNORECASE):
            found.append(("myelopathy", _ev(note, sent, m)))
    return found


def _negated_sentence(note: Note, sent: Sentence) -> bool:
    """Hypothetical sentences (return precautions) never supply numeric red flags."""
    return bool(re.search(r"\b(?:if|should\s+you|return\s+to|call\s+(?:if|for))\b", sent.text, re.IGNORECASE))


def _ev(note: Note, sent: Sentence, m: re.Match[str]) -> Evidence:
    return note.evidence(sent.start + m.start(), sent.start + m.end(), sent)


def _limb_region(text: str) -> Region | None:
    if re.search(_LEG, text, re.IGNORECASE):
        return Region.lumbar
    if re.search(_ARM, text, re.IGNORECASE):
        return Region.cervical
    return None


def _regional(note: Note, spec: dict[str, list[str]], name: str, lex: dict[str, Any]) -> Fact:
    """A fact whose patterns are grouped by region (radiculopathy, neurologic deficit); what an attached
    record from years ago found is not the present complaint's."""
    mentions: list[Mention] = []
    regions: list[Region] = []
    for region, patterns in spec.items():
        found = [m for m in note.mentions(f"{name}:{region}", patterns) if not _old_document(note, m.start, lex)]
        mentions += found
        if any(m.asserted for m in found):
            regions.append(Region(region))
    fact = fact_from(note, mentions)
    fact.regions = regions
    return fact


def _with_denials(note: Note, fact: Fact, denials: list[str]) -> Fact:
    """Record outright denials ("no radiculopathy") of a fact the note also asserts, as conflicts."""
    if fact.status != FactStatus.present:
        return fact
    found = [m for m in note.mentions("denied", denials) if not (m.modifiers & {Modifier.FAMILY, Modifier.HYPOTHETICAL})]
    fact.conflicts = _dedupe(note.evidence(m.start, m.end, m.sentence) for m in found)
    return fact


def _candidacy(note: Note, lex: dict[str, Any]) -> Fact:
    spec = lex["candidacy"]
    positive = [
        m for m in note.mentions("candidacy", spec["positive"]) if not (m.modifiers & {Modifier.NEGATED, Modifier.FAMILY})
    ]
    # a refusal the patient states ("he does not want shots - his brother had a fusion") is the patient's
    negative = [
        m
        for m in note.mentions("no_candidacy", spec["negative"])
        if Modifier.FAMILY not in m.modifiers or _patient_subject(note.text[m.sentence.start : m.start])
    ]
    positive += _planned_interventions(note, spec["naming"], spec["negative"])
    positive += _injection_given(note, spec)
    # "If not improving with 2 more weeks of PT, will consider referral to spine surgery": an option kept
    # for later, on a condition not yet met, is not a candidacy now.
    if_not_better = rx(spec["only_if_not_better"])
    positive = [m for m in positive if not if_not_better.search(m.sentence.text)]
    # a question ("Would you consider surgery?" on an intake form) asks; it records no plan
    positive = [m for m in positive if not m.sentence.text.rstrip(" \"'”)").endswith("?")]
    # Candidacy is a plan by nature: "considering ESI" counts although ConText calls it hypothetical.
    # When the patient declines after the options were only discussed, the later statement wins; when
    # the note also records a decision to go ahead ("wishes to proceed w/ TFESI", "ESI scheduled"),
    # the two contradict each other and the fact carries the refusal as a conflict.
    if positive and negative:
        decided_rx = rx(spec["decided"])
        # a refusal in the same sentence governs an option only named there ("she declines injection or
        # surgical referral"), unless that option records a decision to go ahead
        refused_in = {n.sentence.start for n in negative}
        positive = [m for m in positive if m.sentence.start not in refused_in or decided_rx.search(note.text[m.start : m.end])]
    if positive and negative:
        decided = [m for m in positive if decided_rx.search(note.text[m.start : m.end])]
        if decided:
            evidence = _dedupe(note.evidence(m.start, m.end, m.sentence) for m in positive)
            conflicts = _dedupe(note.evidence(m.start, m.end, m.sentence) for m in negative)
            return Fact(status=FactStatus.present, evidence=evidence, conflicts=conflicts)
        # the later statement: by the date of its document first (an older note may be attached after
        # the latest one), then by its place in the text
        if _said_later(note, negative, positive):
            positive = []
    if positive:
        return Fact(status=FactStatus.present, evidence=_dedupe(note.evidence(m.start, m.end, m.sentence) for m in positive))
    if negative:
        return Fact(status=FactStatus.absent, discounted=_dedupe(note.evidence(m.start, m.end, m.sentence) for m in negative))
    return Fact()


def _never_taken(note: Note, term: str, template: str) -> bool:
    """The note says somewhere that the drug ``term`` was never started, taken or filled (looked for
    around each place the drug is named, not across the whole note)."""
    name = re.escape(term.strip())
    pattern = re.compile(template.replace("{term}", name), re.IGNORECASE)
    for found in re.finditer(name, note.text, re.IGNORECASE):
        if pattern.search(note.text, max(0, found.start() - 80), found.end() + 120):
            return True
    return False


def _said_later(note: Note, these: list[Mention], those: list[Mention]) -> bool:
    """The last of ``these`` was said after the last of ``those``: by the dates of their documents where
    every one is dated (an older note may be attached after the latest), else by place in the text."""
    dates = {m.start: note.written_on(m.start) for m in [*these, *those]}
    if all(dates.values()):
        return max((dates[m.start], m.start) for m in these) > max((dates[m.start], m.start) for m in those)  # type: ignore[operator]
    return max(m.start for m in these) > max(m.start for m in those)


def _injection_given(note: Note, spec: dict[str, Any]) -> list[Mention]:
    """Injections given in this episode (candidacy shown, not only planned): under a procedure report's
    heading in a document not older than ``performed_within_days``, or in a sentence that dates it so."""
    days = spec["performed_within_days"]
    given = []
    for m in note.mentions("candidacy:given", [spec["performed_heading"]]):
        if not (m.modifiers & {Modifier.NEGATED, Modifier.FAMILY}) and not _written_before(note, m.start, days):
            given.append(m)
    for m in note.mentions("candidacy:given", [spec["performed"]]):
        if m.modifiers & {Modifier.NEGATED, Modifier.FAMILY, Modifier.HYPOTHETICAL}:
            continue
        when = [d for _, d in find_dates(m.sentence.text, note_date=note.note_date)]
        if when and note.note_date is not None and all((note.note_date - d).days <= days for d in when):
            given.append(m)
    return given


_PLANS = {"plan", "assessment_and_plan"}
_NOT_PLANNED = {Modifier.NEGATED, Modifier.FAMILY, Modifier.HISTORICAL, Modifier.RESOLVED}


def _patient_subject(before: str) -> bool:
    """The clause before a mention has the patient as its subject ("He is clear that he ...")."""
    return re.search(r"\b(?:he|she|they|pt|patient)\b[^.;,]{0,40}$", before, re.IGNORECASE) is not None


def _planned_interventions(note: Note, naming: list[str], refusals: list[str]) -> list[Mention]:
    """An intervention named in the plan ("P: L4-5 / L5-S1 TFESI per MRI") is a planned one, unless the
    same sentence refuses it ("Plan: declines ESI")."""
    refused = rx("|".join(refusals))
    found = []
    for m in note.mentions("candidacy:plan", naming):
        section = note.section_at(m.start)
        if section is None or section.kind not in _PLANS or m.modifiers & _NOT_PLANNED:
            continue
        if not refused.search(m.sentence.text):
            found.append(m)
    return found


def _progression(note: Note, lex: dict[str, Any], kinds: tuple[str, ...] = ("worsening", "persistent")) -> Fact:
    """Persistent or progressive symptoms (or, with kinds=("worsening",), new or progressing only)."""
    spec = lex["progression"]
    worse = [m for k in kinds for m in note.mentions(f"progression:{k}", spec[k]) if m.asserted]
    if "persistent" not in kinds:  # "worse with prolonged standing" aggravates; it does not progress
        aggravating = rx(spec["aggravating_after"])
        worse = [
            m for m in worse if not (m.text.lower().startswith("worse") and aggravating.search(note.text[m.end : m.end + 40]))
        ]
    if worse:
        return Fact(status=FactStatus.present, evidence=_dedupe(note.evidence(m.start, m.end, m.sentence) for m in worse))
    better = [m for m in note.mentions("improving", spec["improving"]) if m.asserted]
    if better:
        return Fact(status=FactStatus.absent, discounted=_dedupe(note.evidence(m.start, m.end, m.sentence) for m in better))
    return Fact()


def _symptoms(note: Note, lex: dict[str, Any]) -> tuple[Fact, list[Region]]:
    symptom = rx("|".join(lex["symptoms"]))
    care = rx("|".join(p for ps in lex["conservative_care"].values() for p in ps))
    best: tuple[float, Evidence] | None = None
    for sent in note.sentences:
        if not symptom.search(sent.text) or care.search(sent.text) or rx(lex["prior_surgery"][0]).search(sent.text):
            continue
        for d in note.durations(sent):
            weeks = note.weeks_as_of_note_date(d)
            if best is None or weeks > best[0]:
                best = (weeks, note.evidence(d.start, d.end, sent))
    fact = Fact(status=FactStatus.present, value=round(best[0], 1), evidence=[best[1]]) if best else Fact()
    regions = []
    for region, patterns in lex["symptom_regions"].items():
        if any(m.asserted and symptom.search(m.sentence.text) for m in note.mentions(f"region:{region}", patterns)):
            regions.append(Region(region))
    return fact, regions


def _onset(note: Note, lex: dict[str, Any]) -> date | None:
    """When the symptoms under review began, where the note dates it ("arm pain since 01/28/2026",
    "since around the New Year"): the earliest such date. A length alone ("7 days of pain", its
    document's date uncertain) gives none, so no course is ever set aside on a guess."""
    symptom = rx("|".join(lex["symptoms"]))
    care = rx("|".join(p for ps in lex["conservative_care"].values() for p in ps))
    dated = [
        d.start_date
        for sent in note.sentences
        if symptom.search(sent.text) and not care.search(sent.text)
        for d in note.durations(sent)
        if d.kind == "since" and d.start_date is not None
    ]
    return min(dated, default=None)


def _injections(note: Note, lex: dict[str, Any]) -> list[Evidence]:
    return _dedupe(note.evidence(s.start, s.end) for s in note.instructions)  # phrasings: data/injection.yaml


def extract_facts(case: Case) -> ClinicalFacts:
    """ClinicalFacts for one case, from its note alone (deterministic, no network)."""
    request = case.request
    text = request.documentation
    note = read_note(text, request.note_date, request.patient.age)
    lex = lexicon()
    flags = _red_flags(note, lex)
    for flag, codes in flag_codes(request.diagnoses).items():
        flags[flag].status = FactStatus.present
        flags[flag].codes = codes
    deficit = _regional(note, lex["neuro_deficit"], "neuro_deficit", lex)
    _numeric_flags(note, lex, flags, deficit)
    _drop_long_settled(note, lex, deficit)
    symptom_weeks, regions = _symptoms(note, lex)
    facts = ClinicalFacts(
        extractor=EXTRACTOR,
        red_flags=flags,
        symptom_weeks=symptom_weeks,
        symptom_regions=regions,
        progression=_progression(note, lex),
        worsening=_progression(note, lex, ("worsening",)),
        conservative_care=conservative_care(note, lex, _onset(note, lex)),
        radiculopathy=_with_denials(
            note, _regional(note, lex["radiculopathy"], "radiculopathy", lex), lex["radiculopathy_denied"]
        ),
        neuro_deficit=deficit,
        candidacy=_candidacy(note, lex),
        prior_surgery=prior_surgeries(note, lex),
        prior_imaging=fact_from(note, note.mentions("prior_imaging", lex["prior_imaging"])),
        functional_impairment=fact_from(note, note.mentions("function", lex["functional_impairment"])),
        injections=_injections(note, lex),
    )
    facts = supplement(note, lex, facts)
    _settle_resolved_fever(note, lex, facts.red_flags["infection"])  # after every source of fever evidence
    return facts
