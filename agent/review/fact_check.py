"""The model's reading of the note against the rules extractor's: disagreements are shown, never silently won.

The rules' facts decide (the validator enforces them). The model's reading can only move a decision
in the safe direction: a red flag the model reports and the rules did not find turns a deny for a
code whose region it bears on into a refer, so a physician looks. It can never produce an approval:
an approve the rules do not support is blocked by the validator whatever the model read.
"""

from __future__ import annotations

from agent.cases.determination import Determination, ReportedFacts, Severity, Violation, ViolationKind
from agent.cases.model import Decision
from agent.criteria.model import CriteriaSet
from agent.facts.model import ClinicalFacts

CARE_TOLERANCE_WEEKS = 1.0


def _weeks(value: float | None) -> str:
    return "no dated conservative care" if value is None else f"{value:g} weeks of conservative care"


def _care_differs(model: float | None, rules: float | None) -> bool:
    if model is None or rules is None:
        return (model or 0) > 0 or (rules or 0) > 0
    return abs(model - rules) >= CARE_TOLERANCE_WEEKS


def fact_disagreements(reported: ReportedFacts | None, facts: ClinicalFacts) -> list[Violation]:
    """Info findings where the model read the note differently from the rules extractor.

    Red flags the rules found and the model missed are reported by the validator already
    (``red_flag_disagreement``); here: flags only the model reports, and conservative-care weeks.
    """
    if reported is None:
        return []
    found = []
    model_only = sorted(set(reported.red_flags) - set(facts.present_flags()))
    if model_only:
        found.append(
            Violation(
                kind=ViolationKind.model_red_flag_unconfirmed,
                severity=Severity.info,
                message=f"the model reports red flag(s) the rules did not find: {', '.join(model_only)}; "
                "they can only route a deny to physician review, never support an approval",
            )
        )
    rules_weeks = facts.conservative_care.total_weeks
    if _care_differs(reported.conservative_care_weeks, rules_weeks):
        found.append(
            Violation(
                kind=ViolationKind.conservative_care_disagreement,
                severity=Severity.info,
                message=f"the model reads {_weeks(reported.conservative_care_weeks)}, the rules {_weeks(rules_weeks)}; "
                "the rules' reading decides",
            )
        )
    return found


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
    codes, notes = [], []
    for d in det.determinations:
        flags = sorted(model_only & _bearing_flags(criteria, d.code))
        if d.decision == Decision.deny and flags:
            message = (
                f"deny changed to refer: the model reports {', '.join(flags)} bearing on this region, "
                "which the rules did not find; a physician should review the note"
            )
            d = d.model_copy(update={"decision": Decision.refer, "rationale": f"{d.rationale} [{message}.]".strip()})
            notes.append(
                Violation(
                    kind=ViolationKind.model_red_flag_unconfirmed,
                    severity=Severity.info,
                    code=d.code,
                    message=message,
                    safe_decision=Decision.refer,
                )
            )
        codes.append(d)
    if not notes:
        return det
    return det.model_copy(update={"determinations": codes, "validator_findings": [*det.validator_findings, *notes]})
