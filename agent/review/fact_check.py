"""Red flags the model reports without verified evidence: they can only move a decision in the safe
direction. A deny for a code whose region such a flag bears on becomes a refer, so a physician looks;
it never supports an approval (verified model facts are merged in ``agent.review.readings``)."""

from __future__ import annotations

from agent.cases.determination import Determination, ReportedFacts, ViolationKind
from agent.criteria.model import CriteriaSet
from agent.facts.model import ClinicalFacts
from agent.review.validator import refer_denies


def _bearing_flags(criteria: CriteriaSet, code: str) -> set[str]:
    info = criteria.codes.codes.get(code)
    if info is None:
        return set()
    return {f for t in criteria.topics if info.region.value in t.regions for f in t.red_flags}


def refer_on_unconfirmed_flags(
    det: Determination, reported: ReportedFacts | None, facts: ClinicalFacts, criteria: CriteriaSet
) -> Determination:
    """Turn a deny into refer where the model reports a red flag bearing on the code that the rules did not find."""
    if reported is None:
        return det
    model_only = set(reported.red_flags) - set(facts.present_flags())
    if not model_only:
        return det
    reasons = {}
    for d in det.determinations:
        flags = sorted(model_only & _bearing_flags(criteria, d.code))
        if flags:
            reasons[d.code] = (
                ViolationKind.model_red_flag_unconfirmed,
                f"deny changed to refer: the model reports {', '.join(flags)} bearing on this region, "
                "which the rules did not find; a physician should review the note",
            )
    return refer_denies(det, reasons)
