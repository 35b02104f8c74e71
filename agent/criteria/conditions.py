"""Conditions: the tests a criteria file writes over ClinicalFacts, and their one interpreter.

A ``Condition`` (``agent.criteria.model``) has exactly one key; ``Context.evaluate`` dispatches it to the
handler of that key in ``HANDLERS``. Each handler returns an ``Outcome``: met, not met or not documented,
with the evidence and a one-line explanation. The engine (``agent.criteria.engine``) only combines them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.cases.determination import CriterionStatus
from agent.cases.model import Case
from agent.criteria.contacts import contact_evidence, contacts, study_weeks_ago
from agent.criteria.model import CareRule, Condition, FlagGrade, Topic
from agent.facts.model import ClinicalFacts, Evidence, FactStatus, Modality, Region

MET, NOT_MET, UNDOC = CriterionStatus.met, CriterionStatus.not_met, CriterionStatus.not_documented


@dataclass
class Outcome:
    status: CriterionStatus
    evidence: list[Evidence] = field(default_factory=list)
    explanation: str = ""
    conflict: bool = False  # met, but the note contradicts itself on it
    undatable: bool = False  # not met only because what decides it cannot be dated (care without dates)


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


def _same_sentence(ctx: Context, cond: Condition) -> Outcome:
    """Every part met, by evidence from one sentence (the reader quotes the sentence of each mention)."""
    parts = [ctx.evaluate(c) for c in cond.same_sentence or []]
    if any(p.status != MET for p in parts):
        return _all(ctx, Condition(all=cond.same_sentence))
    for e in parts[0].evidence:
        beside = [next((o for o in p.evidence if o.start < e.end and e.start < o.end), None) for p in parts[1:]]
        if all(beside):
            return Outcome(MET, [e, *[o for o in beside if o]], "; ".join(p.explanation for p in parts if p.explanation))
    return Outcome(NOT_MET, [e for p in parts for e in p.evidence], "each is documented, but not in one sentence")


def _not(ctx: Context, cond: Condition) -> Outcome:
    inner = ctx.evaluate(cond.not_)  # type: ignore[arg-type]  # set: this handler runs only for 'not'
    return Outcome(NOT_MET if inner.status == MET else MET, inner.evidence, inner.explanation)


_MOTOR_GRADE = re.compile(r"(?<![\d/])([0-5])\s*([+-])?\s*/\s*5\b")


def _words(words: list[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(r"\s+".join(map(re.escape, w.split())) for w in words) + r")\b", re.IGNORECASE)


def _graded_out(rule: FlagGrade, evidence: Evidence) -> bool:
    """A mention the topic's grade limit discounts: graded words, every grade in its sentence above the
    limit ("new ankle weakness, 4+/5"), and none of the words that count whatever the grade."""
    if not _words(rule.graded).search(evidence.term or evidence.quote):
        return False
    if rule.always and _words(rule.always).search(evidence.quote):
        return False
    grades = [int(n) + {"+": 0.3, "-": -0.3}.get(sign, 0.0) for n, sign in _MOTOR_GRADE.findall(evidence.quote)]
    return bool(grades) and min(grades) > rule.motor_grade_max


def counts_under(facts: ClinicalFacts, topic: Topic, flag: str) -> bool:
    """The flag is present and counts under this topic: a flag with a grade limit (``red_flag_grades``)
    needs one mention the limit does not discount, or a diagnosis code."""
    fact = facts.red_flags[flag]
    if fact.status != FactStatus.present:
        return False
    rule = topic.red_flag_grades.get(flag)
    if rule is None or fact.codes or not fact.evidence:
        return True
    return any(not _graded_out(rule, e) for e in fact.evidence)


def bears_on(facts: ClinicalFacts, topic: Topic, region: Region, flag: str) -> bool:
    """A present red flag bears on ``region`` when the topic lists it (and counts it: ``counts_under``)
    and the reader either placed it there (a foot drop placed in the legs does not decide a cervical
    study, design principle 4) or did not place it: then it bears on every region of that list (the safe
    reading), unless the topic's ``red_flag_scope`` ties that flag to the region of the documented symptoms."""
    fact = facts.red_flags[flag]
    if flag not in topic.red_flags or not counts_under(facts, topic, flag):
        return False
    if fact.regions:
        return region in fact.regions
    if topic.red_flag_scope.get(flag) == "symptom_region" and facts.symptom_regions:
        # the topic scopes this flag to the region of the symptoms: unplaced fever with low back pain
        # bears on the lumbar spine, not on a cervical study requested beside it
        return region in facts.symptom_regions
    return True


def _red_flag(ctx: Context, cond: Condition) -> Outcome:
    flags = ctx.topic.red_flags if cond.red_flag == "any" else [cond.red_flag or ""]
    present = [f for f in flags if bears_on(ctx.facts, ctx.topic, ctx.region, f)]
    if present:
        evidence = [e for f in present for e in ctx.facts.red_flags[f].evidence]
        return Outcome(MET, evidence, "red flag present: " + ", ".join(present))
    elsewhere = [f for f in flags if f in ctx.topic.red_flags and counts_under(ctx.facts, ctx.topic, f)]
    if elsewhere:
        places = "; ".join(f"{f} ({', '.join(r.value for r in ctx.facts.red_flags[f].regions)})" for f in elsewhere)
        evidence = [e for f in elsewhere for e in ctx.facts.red_flags[f].evidence]
        return Outcome(NOT_MET, evidence, f"red flag documented for another region, not {ctx.region.value}: {places}")
    graded = [f for f in flags if f in ctx.topic.red_flags and ctx.facts.red_flags[f].status == FactStatus.present]
    if graded:
        limits = "; ".join(f"{f} graded better than {ctx.topic.red_flag_grades[f].motor_grade_max}/5" for f in graded)
        evidence = [e for f in graded for e in ctx.facts.red_flags[f].evidence]
        return Outcome(NOT_MET, evidence, f"not a red flag under this criteria set: {limits}")
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
    names_counted, exclude = [m.name for m in counted], rule.undated == "exclude"
    everywhere = care.weeks_for(modalities=names_counted, exclude_undated=exclude)
    total = care.weeks_for(region=ctx.region, modalities=names_counted, exclude_undated=exclude)
    if total is None:
        if everywhere is not None:
            return Outcome(
                NOT_MET,
                care.evidence,
                f"the documented treatment is for another region than the {ctx.region.value}{skipped_note}",
            )
        symptoms = ctx.facts.symptom_weeks.value
        undatable = bool(counted) and (symptoms is None or symptoms >= need)
        return Outcome(UNDOC, care.evidence, f"{names} documented without dates or duration{skipped_note}", undatable=undatable)
    weeks = total
    elsewhere = "" if everywhere == total else f" ({everywhere:g} weeks counting care for other regions)"
    explanation = f"{round(weeks, 1):g} weeks of documented treatment ({names}){elsewhere}; {need:g} required{skipped_note}"
    if rule.within_weeks is not None:
        note_date = ctx.case.request.note_date
        weeks = (
            care.weeks_for(
                region=ctx.region,
                modalities=names_counted,
                exclude_undated=exclude,
                within_weeks=rule.within_weeks,
                note_date=note_date,
            )
            or 0.0
        )
        if note_date is None:
            explanation += f"; the note has no date, so the {rule.within_weeks:g}-week window could not be checked"
        else:
            explanation = (
                f"{round(weeks, 1):g} weeks of documented treatment ({names}) in the {rule.within_weeks:g} weeks "
                f"before {note_date.isoformat()}; {need:g} required{skipped_note}"
            )
    status = MET if weeks >= need else NOT_MET
    conflicts = care.conflicts_for(ctx.region)
    if conflicts and status == MET:
        explanation += "; later documentation says this treatment was not done"
        return Outcome(status, care.evidence + conflicts, explanation, conflict=True)
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
    age = ctx.case.request.patient.age
    if age is None:  # no birth date: not documented, so a criterion or scope gated on age is not met by default
        return Outcome(UNDOC, [], "age unknown (no birth date given)")
    ok = age >= (cond.age_min or 0)
    return Outcome(MET if ok else NOT_MET, [], f"age {age}")


def _in_person_evaluation(ctx: Context, _: Condition) -> Outcome:
    found = contacts(ctx.case)
    examined = [c for c in found if c.exam is not None]
    in_person = [c for c in examined if not c.remote]
    if in_person:
        first = in_person[0]
        explanation = f"in-person evaluation with a neurologic examination on {first.on}"
        return Outcome(MET, [first.exam] if first.exam else [], explanation)
    if examined:
        return Outcome(
            NOT_MET,
            [c.exam for c in examined if c.exam],
            "a neurologic examination is documented only at a remote contact (telehealth, phone or portal)",
        )
    if not found:
        return Outcome(UNDOC, [], "no dated contact in the documentation (no note date or dated visit header)")
    return Outcome(UNDOC, [], "no neurologic examination (strength, reflexes, sensation, straight-leg raise) documented")


def _reevaluation(ctx: Context, cond: Condition) -> Outcome:
    found = sorted(contacts(ctx.case), key=lambda c: c.on)
    if not found:
        return Outcome(UNDOC, [], "no dated contact in the documentation")
    first = next((c for c in found if c.exam is not None), found[0])
    need = cond.reevaluation.after_weeks if cond.reevaluation else 0.0
    later = [c for c in found if c.on > first.on and (c.on - first.on).days / 7 >= need]
    if later:
        last = later[-1]
        weeks = (last.on - first.on).days / 7
        return Outcome(
            MET,
            [contact_evidence(ctx.case, last)],
            f"re-evaluated on {last.on} ({'remote' if last.remote else 'in person'}), "
            f"{weeks:.1f} weeks after the evaluation on {first.on}",
        )
    dates = sorted({c.on.isoformat() for c in found})
    return Outcome(
        NOT_MET,
        [contact_evidence(ctx.case, first)],
        f"no separate contact at least {need:g} weeks after the evaluation on {first.on} (contacts: {', '.join(dates)})",
    )


def _surgery_window(ctx: Context, cond: Condition) -> Outcome:
    window = cond.surgery_within_weeks or 0.0
    here = [s for s in ctx.facts.prior_surgery if s.region == ctx.region]
    if not here:
        return Outcome(NOT_MET, [], f"no prior surgery at the {ctx.region.value} region documented")
    dated = [s for s in here if s.weeks_ago is not None]
    recent = [s for s in dated if (s.weeks_ago or 0.0) <= window]
    if recent:
        return Outcome(MET, [s.evidence for s in recent], f"surgery about {recent[0].weeks_ago:g} weeks ago (window {window:g})")
    if len(dated) == len(here):
        return Outcome(NOT_MET, [s.evidence for s in here], f"surgery more than {window:g} weeks ago")
    return Outcome(UNDOC, [s.evidence for s in here], "the date of the surgery at this region is not documented")


def _always(_: Context, cond: Condition) -> Outcome:
    if cond.always == "met":
        return Outcome(MET, [], "not a requirement of this version of the criteria set")
    return Outcome(NOT_MET, [], "not applied by this version of the criteria set")


def _imaging_interval(ctx: Context, cond: Condition) -> Outcome:
    fact = ctx.facts.prior_imaging
    if fact.status != FactStatus.present:
        return Outcome(UNDOC, [], "no prior imaging documented")
    if fact.regions and ctx.region not in fact.regions:
        return Outcome(NOT_MET, fact.evidence, f"prior imaging is of another region, not {ctx.region.value}")
    reference = ctx.case.request.note_date or ctx.case.request.decision_date[0]
    ages = [(w, e) for e in fact.evidence if (w := study_weeks_ago(e.quote, reference)) is not None]
    if not ages:
        return Outcome(UNDOC, fact.evidence, "the date of the prior imaging is not documented")
    weeks, evidence = min(ages, key=lambda pair: pair[0])
    limit = cond.prior_imaging_within_weeks or 0.0
    explanation = f"prior imaging about {weeks:g} weeks before {reference} (interval {limit:g})"
    return Outcome(MET if weeks <= limit else NOT_MET, [evidence], explanation)


HANDLERS: dict[str, Callable[[Context, Condition], Outcome]] = {
    "all_": _all,
    "any_": _any,
    "not_": _not,
    "same_sentence": _same_sentence,
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
    "in_person_evaluation": _in_person_evaluation,
    "reevaluation": _reevaluation,
    "surgery_within_weeks": _surgery_window,
    "prior_imaging_within_weeks": _imaging_interval,
    "always": _always,
}


def refs(cond: Condition | None) -> set[str]:
    """The criterion ids a condition refers to, at any depth."""
    if cond is None:
        return set()
    found = {cond.criterion} if cond.criterion else set()
    for sub in [*(cond.all_ or []), *(cond.any_ or []), *(cond.same_sentence or []), cond.not_]:
        found |= refs(sub)
    return found
