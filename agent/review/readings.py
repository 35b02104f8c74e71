"""Two readers, one set of facts: the rules reader's facts plus the model's verified facts.

The criteria engine then decides on the union: a deny stands only when no verified fact from either
reader supports approval, and an approval resting on the model's verified evidence is not turned into
a deny on the rules' reading alone. What the readers still read differently is reported with both
readings shown (info findings), so a physician sees both.
"""

from __future__ import annotations

from agent.cases.determination import Determination, ReportedFacts, Severity, Violation, ViolationKind
from agent.cases.model import Case, Decision
from agent.criteria.engine import Engine
from agent.facts.model import CareEpisode, ClinicalFacts, Evidence, Fact, FactStatus, Modality
from agent.review.evidence import VerifiedReading
from agent.review.validator import refer_denies

MODEL_COURSE = "as read by the model (quote verified)"


def merged_facts(rules: ClinicalFacts, verified: VerifiedReading) -> ClinicalFacts:
    """``rules`` with every verified model fact added (never removes what the rules found)."""
    facts = rules.model_copy(deep=True)
    for flag, evidence in verified.red_flags.items():
        fact = facts.red_flags[flag]
        fact.status = FactStatus.present
        if evidence not in fact.evidence:
            fact.evidence.append(evidence)
    care = facts.conservative_care
    if verified.care_weeks is not None and (care.total_weeks or 0.0) < verified.care_weeks:
        care.status = FactStatus.present
        care.modalities.append(
            Modality(name=MODEL_COURSE, status=FactStatus.present, weeks=verified.care_weeks, evidence=verified.care_evidence)
        )
        care.episodes.append(CareEpisode(modality=MODEL_COURSE, weeks=verified.care_weeks, evidence=verified.care_evidence))
        care.total_weeks = care.weeks_for()
        care.duration_evidence += [e for e in verified.care_evidence if e not in care.duration_evidence]
    if verified.candidacy is not None and facts.candidacy.status != FactStatus.present:
        facts.candidacy = Fact(status=FactStatus.present, evidence=[verified.candidacy])
    return facts


def _info(kind: ViolationKind, message: str) -> Violation:
    return Violation(kind=kind, severity=Severity.info, message=message)


def _weeks(value: float | None) -> str:
    return "none dated" if value is None else f"{value:g} weeks"


def reading_findings(rules: ClinicalFacts, reported: ReportedFacts | None, verified: VerifiedReading) -> list[Violation]:
    """Both readings side by side, where they differ: verified model facts the rules missed, refused
    model facts, and rules facts the model did not report."""
    if reported is None:
        return []
    found = list(verified.refused)
    rules_flags = set(rules.present_flags())
    added = sorted(set(verified.red_flags) - rules_flags)
    if added:
        found.append(
            _info(
                ViolationKind.model_evidence_verified,
                f"red flag(s) read by the model with verified quotes, missed by the rules: {', '.join(added)}; they count",
            )
        )
    refused_flags = {v.message for v in verified.refused}
    unconfirmed = sorted(
        set(reported.red_flags)
        - rules_flags
        - set(verified.red_flags)
        - {f for f in reported.red_flags if any(f.replace("_", " ") in m for m in refused_flags)}
    )
    if unconfirmed:
        found.append(
            Violation(
                kind=ViolationKind.model_red_flag_unconfirmed,
                severity=Severity.info,
                message=f"the model reports red flag(s) without checkable evidence: {', '.join(unconfirmed)}; they can "
                "only route a deny to physician review, never support an approval",
            )
        )
    rules_weeks = rules.conservative_care.total_weeks
    if verified.care_weeks is not None and (rules_weeks or 0.0) < verified.care_weeks:
        found.append(
            _info(
                ViolationKind.model_evidence_verified,
                f"conservative care: the model reads {_weeks(verified.care_weeks)} with verified dates, "
                f"the rules {_weeks(rules_weeks)}; the verified reading counts",
            )
        )
    elif _care_differs(reported.conservative_care_weeks, rules_weeks):
        found.append(
            _info(
                ViolationKind.conservative_care_disagreement,
                f"conservative care: the model reads {_weeks(reported.conservative_care_weeks)}, the rules {_weeks(rules_weeks)}",
            )
        )
    if verified.candidacy is not None and rules.candidacy.status != FactStatus.present:
        found.append(
            _info(ViolationKind.model_evidence_verified, "candidacy for intervention: read by the model with a verified quote")
        )
    return found


def _care_differs(model: float | None, rules: float | None) -> bool:
    if model is None or rules is None:
        return (model or 0) > 0 or (rules or 0) > 0
    return abs(model - rules) >= 1.0


def disputed(reported: ReportedFacts | None, verified: VerifiedReading) -> bool:
    """The model reported a decision-moving fact whose evidence was refused: the readers still disagree."""
    return reported is not None and bool(verified.refused)


def _as_claimed(reported: ReportedFacts) -> VerifiedReading:
    """Every fact the model reported, as if its evidence had checked out (to see whether it moves a decision)."""
    claimed = VerifiedReading()
    for item in reported.flag_evidence:
        claimed.red_flags.setdefault(
            item.flag, Evidence(quote=item.quote.text, start=item.quote.start or 0, end=item.quote.end or 0)
        )
    weeks = [c.weeks for c in reported.care] + ([reported.conservative_care_weeks] if reported.conservative_care_weeks else [])
    claimed.care_weeks = max(weeks) if weeks else None
    if reported.candidacy_quote is not None:
        quote = reported.candidacy_quote
        claimed.candidacy = Evidence(quote=quote.text, start=quote.start or 0, end=quote.end or 0)
    return claimed


def refer_on_disputed(
    det: Determination,
    case: Case,
    facts: ClinicalFacts,
    reported: ReportedFacts | None,
    verified: VerifiedReading,
    engine: Engine,
) -> Determination:
    """A deny becomes refer where the model reported a fact that was refused but, if true, would change
    that code's decision: the readers still disagree on a fact that moves the decision."""
    if not disputed(reported, verified) or reported is None:
        return det
    claimed = merged_facts(facts, _as_claimed(reported))
    refused = "; ".join(v.message for v in verified.refused)
    rules_reading = (
        f"{_weeks(facts.conservative_care.total_weeks)} of conservative care, red flags "
        f"{', '.join(facts.present_flags()) or 'none'}, candidacy {facts.candidacy.status.value}"
    )
    message = (
        f"deny changed to refer: the readers disagree on a fact that decides this code. Model: {refused}. Rules: {rules_reading}"
    )
    moved = [
        d.code
        for d in det.determinations
        if d.decision == Decision.deny and engine.decide_code(case, claimed, d.code).decision != Decision.deny
    ]
    return refer_denies(det, {code: (ViolationKind.readers_disagree, message) for code in moved})


def refer_on_model_decision(det: Determination, drafted: dict[str, Decision]) -> Determination:
    """A deny becomes refer where the model, reading the same documentation, drafted approve or refer
    for that code: the two readers disagree on the decision, and a deny needs both (the model's
    draft may have failed validation for reasons that have nothing to do with the facts). Both
    decisions are named in the finding."""
    reasons = {
        code: (
            ViolationKind.readers_disagree,
            f"deny changed to refer: the language model drafted {decision.value} for {code}, the rules engine deny; "
            "a physician reviewer decides",
        )
        for code, decision in drafted.items()
        if decision != Decision.deny
    }
    return refer_denies(det, reasons)
