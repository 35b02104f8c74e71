"""Conditions: the tests a criteria file writes over ClinicalFacts, and their one interpreter.

A ``Condition`` (``agent.criteria.model``) has exactly one key; ``Context.evaluate`` dispatches it to the
handler of that key in ``HANDLERS``. Each handler returns an ``Outcome``: met, not met or not documented,
with the evidence and a one-line explanation. The engine (``agent.criteria.engine``) only combines them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agent.cases.determination import CriterionStatus
from agent.cases.model import Case
from agent.criteria.model import CareRule, Condition, Topic
from agent.facts.model import ClinicalFacts, Evidence, FactStatus, Modality, Region

MET, NOT_MET, UNDOC = CriterionStatus.met, CriterionStatus.not_met, CriterionStatus.not_documented


@dataclass
class Outcome:
    status: CriterionStatus
    evidence: list[Evidence] = field(default_factory=list)
    explanation: str = ""
    conflict: bool = False  # met, but the note contradicts itself on it


def _from_fact_status(status: FactStatus) -> CriterionStatus:
    return {FactStatus.present: MET, FactStatus.absent: NOT_MET, FactStatus.not_documented: UNDOC}[status]


@dataclass
class Context:
    """What conditions are evaluated against: one case, its facts, one code's region and topic."""

    case: Case
    facts: ClinicalFacts
    region: Region
    topic: Topic
    cache: dict[str, Outcome] = field(default_factory=dict)

    def evaluate(self, cond: Condition) -> Outcome:
        for key, handler in HANDLERS.items():
            if getattr(cond, key) is not None:
                return handler(self, cond)
        raise AssertionError("Condition validated to have exactly one key")  # pragma: no cover


def _all(ctx: Context, cond: Condition) -> Outcome:
    parts = [ctx.evaluate(c) for c in cond.all_ or []]
    status = NOT_MET if any(p.status == NOT_MET for p in parts) else UNDOC if any(p.status == UNDOC for p in parts) else MET
    explanation = "; ".join(p.explanation for p in parts if p.explanation)
    return Outcome(status, [e for p in parts for e in p.evidence], explanation, conflict=any(p.conflict for p in parts))


def _any(ctx: Context, cond: Condition) -> Outcome:
    parts = [ctx.evaluate(c) for c in cond.any_ or []]
    met = [p for p in parts if p.status == MET]
    if met:
        explanation = "; ".join(p.explanation for p in met if p.explanation)
        # contradicted only if every way it is met is contradicted ("radicular pain" denied, but a reflex loss stands)
        return Outcome(MET, [e for p in met for e in p.evidence], explanation, conflict=all(p.conflict for p in met))
    status = UNDOC if any(p.status == UNDOC for p in parts) else NOT_MET
    return Outcome(status, [e for p in parts for e in p.evidence], "; ".join(p.explanation for p in parts if p.explanation))


def _not(ctx: Context, cond: Condition) -> Outcome:
    inner = ctx.evaluate(cond.not_)  # type: ignore[arg-type]  # set: this handler runs only for 'not'
    return Outcome(NOT_MET if inner.status == MET else MET, inner.evidence, inner.explanation)


def bears_on(facts: ClinicalFacts, topic: Topic, region: Region, flag: str) -> bool:
    """A present red flag bears on ``region`` when the topic lists it and the reader either did not
    place it (then it bears on every region of that list, the safe reading) or placed it there: a
    foot drop placed in the legs does not decide a cervical study (design principle 4)."""
    fact = facts.red_flags[flag]
    if flag not in topic.red_flags or fact.status != FactStatus.present:
        return False
    return not fact.regions or region in fact.regions


def _red_flag(ctx: Context, cond: Condition) -> Outcome:
    flags = ctx.topic.red_flags if cond.red_flag == "any" else [cond.red_flag or ""]
    present = [f for f in flags if bears_on(ctx.facts, ctx.topic, ctx.region, f)]
    if present:
        evidence = [e for f in present for e in ctx.facts.red_flags[f].evidence]
        return Outcome(MET, evidence, "red flag present: " + ", ".join(present))
    elsewhere = [f for f in flags if f in ctx.topic.red_flags and ctx.facts.red_flags[f].status == FactStatus.present]
    if elsewhere:
        places = "; ".join(f"{f} ({', '.join(r.value for r in ctx.facts.red_flags[f].regions)})" for f in elsewhere)
        evidence = [e for f in elsewhere for e in ctx.facts.red_flags[f].evidence]
        return Outcome(NOT_MET, evidence, f"red flag documented for another region, not {ctx.region.value}: {places}")
    discounted = [e for f in flags for e in ctx.facts.red_flags[f].discounted] if flags else []
    if discounted:
        return Outcome(NOT_MET, discounted, "mentioned only as negated, family, hypothetical or resolved")
    return Outcome(UNDOC, [], "no red flag documented")


def _fact(ctx: Context, cond: Condition) -> Outcome:
    fact = ctx.facts.fact(cond.fact or "")
    if fact.status == FactStatus.present and not fact.in_region(ctx.region):
        regions = ", ".join(r.value for r in fact.regions)
        return Outcome(NOT_MET, fact.evidence, f"documented for the {regions} region, not {ctx.region.value}")
    evidence = fact.evidence if fact.status == FactStatus.present else fact.discounted
    if fact.status == FactStatus.present and fact.conflicts:
        return Outcome(MET, evidence + fact.conflicts, "the note also denies it outright", conflict=True)
    return Outcome(_from_fact_status(fact.status), evidence, fact.detail or "")


def _care_rule(cond: Condition) -> CareRule:
    if cond.care is not None:
        return cond.care
    window = cond.recent_conservative_care
    if window is not None:
        return CareRule(weeks=window.weeks, within_weeks=window.within_weeks)
    return CareRule(weeks=cond.conservative_care_weeks or 0)


def _undated(m: Modality) -> bool:
    return m.started is None and m.ended is None


def _named(rule: CareRule, m: Modality) -> bool:
    return rule.modalities is None or m.name in rule.modalities


def _conservative_care(ctx: Context, cond: Condition) -> Outcome:
    care = ctx.facts.conservative_care
    rule = _care_rule(cond)
    need = rule.weeks
    if care.status == FactStatus.not_documented:
        return Outcome(UNDOC, [], "no conservative care documented")
    if care.status == FactStatus.absent:
        return Outcome(NOT_MET, care.evidence, "conservative care documented as not done")
    present = [m for m in care.modalities if m.status == FactStatus.present]
    counted = [m for m in present if rule.modalities is None or m.name in rule.modalities]
    if rule.undated == "exclude":
        counted = [m for m in counted if m.weeks is None or not _undated(m)]
    skipped = [m for m in present if m not in counted]
    names = ", ".join(m.name for m in counted) or "none that counts"
    reasons = [f"{m.name} ({'undated' if _undated(m) and _named(rule, m) else 'not a counted modality'})" for m in skipped]
    skipped_note = "; not counted under this criteria set: " + ", ".join(reasons) if skipped else ""
    timed = [m.weeks for m in counted if m.weeks is not None]
    total = care.total_weeks if not skipped else (max(timed) if timed else None)
    if total is None:
        return Outcome(UNDOC, care.evidence, f"{names} documented without dates or duration{skipped_note}")
    weeks = total
    explanation = f"{round(weeks, 1):g} weeks of documented treatment ({names}); {need:g} required{skipped_note}"
    if rule.within_weeks is not None:
        note_date = ctx.case.request.note_date
        recent = [w for m in counted if (w := m.weeks_within(rule.within_weeks, note_date)) is not None]
        weeks = max(recent) if recent else 0.0
        if note_date is None:
            explanation += f"; the note has no date, so the {rule.within_weeks:g}-week window could not be checked"
        else:
            explanation = (
                f"{round(weeks, 1):g} weeks of documented treatment ({names}) in the {rule.within_weeks:g} weeks "
                f"before {note_date.isoformat()}; {need:g} required{skipped_note}"
            )
    status = MET if weeks >= need else NOT_MET
    if care.conflicts and status == MET:
        explanation += "; later documentation says this treatment was not done"
        return Outcome(status, care.evidence + care.conflicts, explanation, conflict=True)
    return Outcome(status, care.evidence, explanation)


def _symptom_weeks(ctx: Context, cond: Condition) -> Outcome:
    fact = ctx.facts.symptom_weeks
    if fact.value is None:
        return Outcome(UNDOC, [], "symptom duration not documented")
    ok = (cond.symptom_weeks_min is None or fact.value >= cond.symptom_weeks_min) and (
        cond.symptom_weeks_max is None or fact.value < cond.symptom_weeks_max
    )
    return Outcome(MET if ok else NOT_MET, fact.evidence, f"symptoms for about {fact.value:.0f} weeks")


def _prior_surgery(ctx: Context, cond: Condition) -> Outcome:
    same = [s for s in ctx.facts.prior_surgery if s.region == ctx.region]
    other = [s for s in ctx.facts.prior_surgery if s.region is not None and s.region != ctx.region]
    wanted, unwanted = (same, other) if cond.prior_surgery == "same_region" else (other, same)
    if wanted:
        return Outcome(MET, [s.evidence for s in wanted], "prior surgery: " + ", ".join(str(s.region) for s in wanted))
    if unwanted:
        regions = ", ".join(sorted({str(s.region) for s in unwanted}))
        return Outcome(NOT_MET, [s.evidence for s in unwanted], f"prior surgery is in the {regions} region")
    return Outcome(UNDOC, [], "no prior spine surgery documented")


def criterion_outcome(ctx: Context, cond: Condition) -> Outcome:
    key = cond.criterion or ""
    if key not in ctx.cache:
        ctx.cache[key] = ctx.evaluate(ctx.topic.criterion(key).when)
    return ctx.cache[key]


def _age(ctx: Context, cond: Condition) -> Outcome:
    ok = ctx.case.request.patient.age >= (cond.age_min or 0)
    return Outcome(MET if ok else NOT_MET, [], f"age {ctx.case.request.patient.age}")


HANDLERS: dict[str, Callable[[Context, Condition], Outcome]] = {
    "all_": _all,
    "any_": _any,
    "not_": _not,
    "red_flag": _red_flag,
    "fact": _fact,
    "conservative_care_weeks": _conservative_care,
    "recent_conservative_care": _conservative_care,
    "care": _conservative_care,
    "symptom_weeks_min": _symptom_weeks,
    "symptom_weeks_max": _symptom_weeks,
    "prior_surgery": _prior_surgery,
    "criterion": criterion_outcome,
    "age_min": _age,
}


def refs(cond: Condition | None) -> set[str]:
    """The criterion ids a condition refers to, at any depth."""
    if cond is None:
        return set()
    found = {cond.criterion} if cond.criterion else set()
    for sub in [*(cond.all_ or []), *(cond.any_ or []), cond.not_]:
        found |= refs(sub)
    return found
