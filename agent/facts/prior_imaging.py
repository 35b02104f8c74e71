"""Earlier radiographs and what they showed: degenerative change or OPLL, per region.

ACR Cervical Pain Variants 8 and 9 apply once radiographs have been done and show degenerative
changes or ossification of the posterior longitudinal ligament (OPLL). A finding counts when it is
asserted, stands in a sentence that names radiographs ("x-rays in March showed C5-6 spondylosis"),
and is not part of a plan ("will order x-rays to look for spondylosis"). MRI or CT findings alone do
not count: the variants are about the next study after radiographs.
"""

from __future__ import annotations

from typing import Any

from agent.facts.context import Mention
from agent.facts.model import Evidence, Fact, FactStatus, Region
from agent.facts.note import Note, rx


def _finding(note: Note, spec: dict[str, Any], key: str) -> Fact:
    study = rx(spec["radiograph_words"])
    plan = rx(spec["radiograph_plan"])
    kept: list[Mention] = []
    discounted: list[Mention] = []
    for m in note.mentions(f"radiographs:{key}", spec[key]):
        on_radiographs = bool(study.search(m.sentence.text)) and not plan.search(m.sentence.text)
        (kept if m.asserted and on_radiographs else discounted).append(m)
    regions: list[Region] = []
    for region, patterns in spec["radiograph_regions"].items():
        if any(rx("|".join(patterns)).search(m.sentence.text) for m in kept):
            regions.append(Region(region))
    evidence: list[Evidence] = list(
        {(e.start, e.end): e for e in (note.evidence(m.start, m.end, m.sentence) for m in kept)}.values()
    )
    if not kept:
        return Fact(discounted=[note.evidence(m.start, m.end, m.sentence) for m in discounted][:3])
    return Fact(status=FactStatus.present, evidence=evidence[:3], regions=regions)


def prior_radiograph_findings(note: Note, lex: dict[str, Any]) -> tuple[Fact, Fact]:
    """(degenerative change, OPLL) on earlier radiographs, each with the regions named."""
    spec = lex["criteria_fidelity"]
    return _finding(note, spec, "radiograph_degenerative"), _finding(note, spec, "radiograph_opll")
