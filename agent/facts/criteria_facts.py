"""Facts and red-flag wording the criteria sets need beyond the core reader (issue 15).

Vocabulary lives in the ``criteria_fidelity`` block at the end of ``data/lexicon.yaml``; extract.py
calls :func:`supplement` once, after the core facts are read. Each rule is one clinical statement:

* low-energy trauma at any age ("slipped on the ice") and osteoporosis documented anywhere, so that
  ACR low back pain Variant 6 can pair them with older age;
* a recent spinal procedure or injection with new pain, and a raised white cell count: infection;
* ankylosing spondylitis or DISH with low-energy trauma: fracture;
* new bladder urgency with a cord sign: myelopathy;
* "slightly worse" is not new or progressing (the post-operative pathways need a real change);
* a progressive neurologic deficit found only in the legs points to the thoracic and lumbar spine,
  only in the arms to the cervical spine (an unplaced deficit keeps bearing on every region);
* a headache the note ties to the neck (cervicogenic headache), for ACR Cervical Pain Variant 6;
* imaging wanted to characterise a lesion found earlier (a question the pain variants do not rate).
"""

from __future__ import annotations

import re
from typing import Any

from agent.facts.care import regions_named
from agent.facts.context import Mention, Modifier
from agent.facts.model import ClinicalFacts, Evidence, Fact, FactStatus, Region
from agent.facts.note import Note, rx
from agent.facts.prior_imaging import prior_radiograph_findings

_NOT_PATIENT_NOW = {Modifier.NEGATED, Modifier.FAMILY, Modifier.HYPOTHETICAL}
_NOT_LESION = {Modifier.NEGATED, Modifier.FAMILY, Modifier.RESOLVED}  # "MRI to characterise the mass" is the request


def _ev(note: Note, mentions: list[Mention]) -> list[Evidence]:
    return list({(e.start, e.end): e for e in (note.evidence(m.start, m.end, m.sentence) for m in mentions)}.values())


def _add(fact: Fact, evidence: list[Evidence]) -> None:
    if evidence:
        fact.status = FactStatus.present
        fact.evidence = list({(e.start, e.end): e for e in [*fact.evidence, *evidence]}.values())


def _asserted(note: Note, name: str, patterns: list[str]) -> list[Mention]:
    return [m for m in note.mentions(name, patterns) if m.asserted]


def _chronic(note: Note, name: str, patterns: list[str]) -> list[Mention]:
    """A chronic condition counts from the history too; only negated, family and hypothetical do not."""
    return [m for m in note.mentions(name, patterns) if not (m.modifiers & _NOT_PATIENT_NOW)]


def _wbc(note: Note, spec: dict[str, Any]) -> list[Evidence]:
    found = _ev(note, _asserted(note, "wbc", spec["wbc_words"]))
    for sent in note.sentences:
        for m in rx(spec["wbc_number"]).finditer(sent.text):
            value = float(m.group(1).replace(",", ""))
            value = value / 1000 if value >= 1000 else value
            if value >= spec["wbc_high"]:
                found.append(note.evidence(sent.start + m.start(), sent.start + m.end(), sent))
    return found


def _slight_only(note: Note, fact: Fact, slight: str) -> bool:
    """Every worsening mention is hedged ("slightly worse", "a little worse")."""
    if fact.status != FactStatus.present or not fact.evidence:
        return False
    for e in fact.evidence:
        term = e.term or ""
        at = note.text.find(term, e.start, e.end) if term else -1
        if at < 0 or not re.search(slight, note.text[max(e.start, at - 25) : at], re.IGNORECASE):
            return False
    return True


def _deficit_regions(deficit: Fact, spec: dict[str, list[str]]) -> list[Region]:
    """Regions a progressive deficit points to; [] when any quote names no limb (then it is unplaced)."""
    regions: set[Region] = set()
    for e in deficit.evidence:
        found = {Region(r) for r, patterns in spec.items() if rx("|".join(patterns)).search(e.quote)}
        if not found:
            return []
        regions |= found
    return sorted(regions)


def _headache(note: Note, mentions: list[Mention]) -> Fact:
    """Present when asserted for the patient; absent when only denied ("no headaches from the neck")."""
    said = [m for m in mentions if m.asserted]
    if said:
        return Fact(status=FactStatus.present, evidence=_ev(note, said)[:3])
    denied = any(Modifier.NEGATED in m.modifiers for m in mentions)
    return Fact(status=FactStatus.absent if denied else FactStatus.not_documented, discounted=_ev(note, mentions)[:3])


def _lesion_regions(mentions: list[Mention], lex: dict[str, Any]) -> list[Region]:
    """The spine regions the lesion's sentences name (none named: it bears on every region)."""
    return sorted({r for m in mentions for r in regions_named(m.sentence.text, lex)}, key=lambda r: r.value)


def supplement(note: Note, lex: dict[str, Any], facts: ClinicalFacts) -> ClinicalFacts:
    spec = lex["criteria_fidelity"]
    flags = facts.red_flags
    denied = rx(lex["fall_denied"])  # "Falls screen: no falls in the past 12 months"
    trauma = [m for m in _asserted(note, "low_energy_trauma", spec["low_energy_trauma"]) if not denied.search(m.sentence.text)]
    facts.low_energy_trauma = Fact(status=FactStatus.present, evidence=_ev(note, trauma)[:3]) if trauma else Fact()
    fragile = _chronic(note, "bone_fragility", spec["bone_fragility"])
    # a bone drug given for something else ("zoledronic acid for Paget disease") says nothing of osteoporosis
    other_use = rx(spec["bone_drug_other_use"])
    fragile = [m for m in fragile if m.text.lower().startswith("osteoporo") or not other_use.search(m.sentence.text)]
    facts.bone_fragility = Fact(status=FactStatus.present, evidence=_ev(note, fragile)[:3]) if fragile else Fact()
    facts.radiographs_degenerative, facts.radiographs_opll = prior_radiograph_findings(note, lex)
    facts.cervicogenic_headache = _headache(note, note.mentions("cervicogenic_headache", spec["cervicogenic_headache"]))
    lesion = [m for m in note.mentions("lesion_to_characterise", spec["lesion_to_characterise"]) if not m.modifiers & _NOT_LESION]
    facts.lesion_to_characterise = (
        Fact(
            status=FactStatus.present,
            evidence=_ev(note, lesion)[:3],
            regions=_lesion_regions(lesion, lex),
            detail=f'a lesion to characterise: "{" ".join(lesion[0].sentence.text.split())[:160]}"',
        )
        if lesion
        else Fact()
    )

    procedure = _asserted(note, "recent_procedure", spec["recent_procedure"])
    new_pain = _asserted(note, "new_pain", spec["new_pain"])
    if procedure and new_pain:
        _add(flags["infection"], _ev(note, procedure + new_pain))
    _add(flags["infection"], _wbc(note, spec))
    fused = _chronic(note, "fused_spine", spec["fused_spine"])
    if fused and trauma:
        _add(flags["fracture"], _ev(note, fused + trauma))
    urgency = _asserted(note, "bladder_urgency", spec["bladder_urgency"])
    cord = _asserted(note, "cord_signs", spec["cord_signs"])
    if urgency and (cord or flags["myelopathy"].status == FactStatus.present):
        _add(flags["myelopathy"], _ev(note, urgency + cord))

    if _slight_only(note, facts.worsening, spec["slight"]):
        facts.worsening = Fact(status=FactStatus.absent, discounted=facts.worsening.evidence, detail="changed only slightly")
    deficit = flags["progressive_neuro_deficit"]
    if deficit.status == FactStatus.present and not deficit.regions:
        deficit.regions = _deficit_regions(deficit, spec["deficit_regions"])
    return facts
