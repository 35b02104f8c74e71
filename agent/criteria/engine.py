"""The criteria engine: one deterministic interpreter of the criteria files.

For each requested code: find the topics covering its region, select the variant the facts
match, read the variant's rating for the requested procedure, and turn it into a decision with
per-criterion findings, missing documentation and an alternative study. Two safety rules are
applied last and always: a red flag bearing on the code's region never yields a deny (refer
instead), and a code outside the knowledge base is referred, never judged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agent.cases.determination import CodeDetermination, CriterionFinding, CriterionStatus, GuidelineCitation, NoteQuote
from agent.cases.model import Case, Decision
from agent.criteria.model import (
    RATING_ORDER,
    CareRule,
    Cite,
    CodeInfo,
    Condition,
    CriteriaSet,
    ProcedureKind,
    Rating,
    Topic,
    Variant,
)
from agent.facts.model import RED_FLAG_LABELS, ClinicalFacts, Evidence, FactStatus, Modality, Region

Citer = Callable[[Cite, str], GuidelineCitation | None]
MET, NOT_MET, UNDOC = CriterionStatus.met, CriterionStatus.not_met, CriterionStatus.not_documented
MODALITY_PREFERENCE = ("mri_wo", "xr", "ct_wo", "mri_wwo", "mri_with", "ct_wwo", "ct_with")
# The confidence the engine reports with a decision: a fixed rule (a code outside the criteria set is
# referred) is certain; a guideline variant that rates the procedure is high; a variant without a rating
# for it, or documentation that contradicts itself, is a coin toss the physician settles.
CONFIDENCE_FIXED_RULE = 1.0
CONFIDENCE_RATED_VARIANT = 0.9
CONFIDENCE_UNRATED_OR_CONTRADICTED = 0.5


DECISION_ORDER = {Decision.approve: 3, Decision.refer: 2, Decision.deny: 1}


def same_modality(a: str, b: str) -> bool:
    """MRI for MRI, CT for CT: the only substitution a deny-with-alternative may suggest."""
    return a.split("_")[0] == b.split("_")[0]


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
        for key, handler in _HANDLERS.items():
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
        return Outcome(UNDOC, care.evidence, f"{names} documented without dates or duration{skipped_note}")
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


def _criterion(ctx: Context, cond: Condition) -> Outcome:
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


_HANDLERS: dict[str, Callable[[Context, Condition], Outcome]] = {
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
    "criterion": _criterion,
    "age_min": _age,
}


def _quotes(evidence: list[Evidence]) -> list[NoteQuote]:
    seen: dict[tuple[int, int], NoteQuote] = {}
    for e in evidence:
        seen.setdefault((e.start, e.end), NoteQuote(text=e.quote, start=e.start, end=e.end))
    return list(seen.values())[:4]


@dataclass
class _Choice:
    topic: Topic
    variant: Variant
    context: Context
    rating: Rating | None = None
    decision: Decision = Decision.refer
    alternative: str | None = None
    gate: Outcome | None = None  # the criteria set's own requirement on this variant, when it is not met


class Engine:
    """Interprets a CriteriaSet; pure and deterministic given the facts."""

    def __init__(self, criteria: CriteriaSet, citer: Citer) -> None:
        self.criteria = criteria
        self.cite = citer

    def decide(self, case: Case, facts: ClinicalFacts) -> list[CodeDetermination]:
        return [self.decide_code(case, facts, code) for code in case.request.codes]

    def decide_code(self, case: Case, facts: ClinicalFacts, code: str) -> CodeDetermination:
        info = self.criteria.codes.codes.get(code)
        if info is None:
            return CodeDetermination(
                code=code,
                decision=Decision.refer,
                confidence=CONFIDENCE_FIXED_RULE,
                rationale=f"Code {code} is outside the knowledge base (spine imaging); no criteria apply.",
            )
        regional = [Context(case, facts, info.region, t) for t in self.criteria.topics_for(info.region)]
        contexts: list[tuple[Context, Outcome | None]] = []
        outside: list[tuple[Context, Outcome | None]] = []
        for c in regional:
            scope = c.evaluate(c.topic.only_when) if c.topic.only_when is not None else None
            (contexts if scope is None or scope.status == MET else outside).append((c, scope))
        if not contexts:
            reasons = [
                f"{c.topic.only_when_reason} ({scope.explanation})" for c, scope in outside if c.topic.only_when_reason and scope
            ]
            return CodeDetermination(
                code=code,
                description=info.label,
                region=info.region.value,
                decision=Decision.refer,
                rationale=" ".join(reasons) or f"No guideline in the criteria set covers the {info.region.value} region.",
            )
        choice = self._choose_variant([c for c, _ in contexts], info)
        return self._build(code, info, choice, contexts[0][0])

    def _judge(self, info: CodeInfo, ctx: Context, variant: Variant) -> _Choice:
        """The variant's rating for the requested study, turned into a decision before the safety rules."""
        choice = _Choice(ctx.topic, variant, ctx, rating=variant.ratings.get(info.procedure))
        choice.gate = self._gate(ctx, variant, info.procedure)
        if choice.rating != Rating.UA or choice.gate is not None:
            choice.alternative = self._alternative(info, ctx, variant)
        policy = self.criteria.policy
        if choice.rating is None:
            choice.decision = Decision.refer
        elif choice.gate is not None:
            choice.decision = Decision.deny
        elif choice.rating == Rating.MBA and variant.mba_decision:
            choice.decision = variant.mba_decision
        elif choice.rating == Rating.MBA and choice.alternative:
            alt_kind = self.criteria.codes.codes[choice.alternative].procedure
            # deny-with-alternative only for a same-modality swap (with-and-without -> without contrast)
            same = same_modality(alt_kind, info.procedure)
            choice.decision = policy.mba_with_usual_alternative if same else policy.rating_decisions[Rating.MBA]
        else:
            choice.decision = policy.rating_decisions[choice.rating]
        return choice

    def _gate(self, ctx: Context, variant: Variant, procedure: str) -> Outcome | None:
        if variant.policy is None or procedure not in variant.policy.procedures:
            return None
        outcome = ctx.evaluate(variant.policy.when)
        return None if outcome.status == MET else outcome

    def _choose_variant(self, contexts: list[Context], info: CodeInfo) -> _Choice:
        """Variants whose conditions hold (red-flag variants, then pathways; with a red flag only the
        pathways marked ``with_red_flags``); the most favourable outcome for the requested study wins,
        then the better rating, then file order."""
        matched = {
            kind: [
                (c, v)
                for c in contexts
                for v in c.topic.variants
                if v.kind == kind and v.when is not None and c.evaluate(v.when).status == MET
            ]
            for kind in ("red_flag", "pathway")
        }
        # red flags first: then only pathways that also hold with a red flag (prior surgery) compete
        pathways = [(c, v) for c, v in matched["pathway"] if v.with_red_flags or not matched["red_flag"]]
        candidates = [self._judge(info, c, v) for c, v in matched["red_flag"] + pathways]
        if candidates:
            return max(
                candidates,
                key=lambda ch: (DECISION_ORDER[ch.decision], RATING_ORDER.get(ch.rating, 0) if ch.rating else 0),
            )
        for c in contexts:
            default = next((v for v in c.topic.variants if v.kind == "default"), None)
            if default:
                return self._judge(info, c, default)
        c = contexts[0]
        return self._judge(info, c, c.topic.variant(c.topic.approval_pathway))

    def _alternative(self, info: CodeInfo, ctx: Context, variant: Variant) -> str | None:
        for kind in MODALITY_PREFERENCE:
            if kind == info.procedure or variant.ratings.get(kind) != Rating.UA:  # type: ignore[call-overload]  # literal keys
                continue
            if self._gate(ctx, variant, kind) is not None:
                continue  # the criteria set's own requirement is not met for that study either
            alt = self.criteria.codes.code_for(info.region, kind)
            if alt and self.criteria.codes.codes[alt].refer is None:
                return alt
        return None

    def _findings(self, primary: Context) -> list[CriterionFinding]:
        findings = []
        for crit in primary.topic.criteria:
            outcome = _criterion(primary, Condition(criterion=crit.id))
            findings.append(
                CriterionFinding(
                    criterion_id=crit.id,
                    label=crit.label,
                    status=outcome.status,
                    role=crit.role,
                    note_quotes=_quotes(outcome.evidence),
                    citation=self.cite(crit.cite, primary.topic.document) if crit.cite else None,
                    explanation=outcome.explanation,
                )
            )
        return findings

    def _departures(self, choice: _Choice, procedure: ProcedureKind) -> list[str]:
        """The criteria set's recorded departures from its source that took part in this decision."""
        topic, variant = choice.topic, choice.variant
        ids = list(variant.departures)
        if choice.gate is not None and variant.policy:
            ids.append(variant.policy.departure)
        refs = _refs(variant.when) | (_refs(variant.policy.when) if variant.policy else set())
        ids += [c.departure for c in topic.criteria if c.id in refs and c.departure]
        shown = []
        for d in dict.fromkeys(ids):
            departure = topic.departure(d)
            if departure.procedures is None or procedure in departure.procedures:
                shown.append(departure.summary)
        return shown

    def _build(self, code: str, info: CodeInfo, choice: _Choice, primary: Context) -> CodeDetermination:
        variant, rating, decision = choice.variant, choice.rating, choice.decision
        alternative = choice.alternative
        notes: list[str] = []
        if info.refer is not None and decision != Decision.refer:
            decision = Decision.refer
            notes.append(f"Refer {info.label}: {info.refer}")
        flags_here = sorted(
            {
                f
                for c in (primary, choice.context)
                for f in c.topic.red_flags
                if bears_on(primary.facts, c.topic, primary.region, f)
            }
        )
        if flags_here and decision == Decision.deny:
            decision = Decision.refer  # safety: a red flag bearing on this region never yields a deny
        findings = self._findings(primary)
        gate_refs = _refs(variant.policy.when) if variant.policy else set()
        ctx = choice.context
        conflicted = [c for c in sorted(_refs(variant.when) | gate_refs) if c in ctx.cache and ctx.cache[c].conflict]
        contradicted = decision == Decision.approve and variant.kind == "pathway" and bool(conflicted)
        if contradicted:
            decision = Decision.refer  # the note contradicts itself on a criterion the approval rests on
            labels = "; ".join(ctx.topic.criterion(c).label.lower() for c in conflicted)
            notes.append(
                f"Refer {info.label} to a physician reviewer: the documentation contradicts itself on {labels} "
                f"({'; '.join(ctx.cache[c].explanation for c in conflicted)}), so the criteria cannot be judged."
            )
        if choice.gate is not None and decision == Decision.deny and rating in (Rating.UA, Rating.MBA):
            notes.append(
                f"{choice.topic.title} rates {info.label} {rating.label} in this scenario; the criteria set "
                f"{self.criteria.policy.id} adds its own requirement, which is not met ({choice.gate.explanation})."
            )
        roles = {c.id: c.role for c in primary.topic.criteria}
        missing, changing = [], []
        if decision == Decision.deny:
            pathway = primary.topic.variant(primary.topic.approval_pathway)
            refs = _refs(pathway.when) | (_refs(pathway.policy.when) if pathway.policy else set())
            if choice.gate is not None and variant.policy:
                refs |= _refs(variant.policy.when)
            for f in findings:
                crit = primary.topic.criterion(f.criterion_id)
                wanted = f.criterion_id in refs or roles[f.criterion_id] == "supporting"
                if wanted and f.status != MET and crit.missing:
                    missing.append(crit.missing)
            changing = [RED_FLAG_LABELS[f] for f in primary.topic.red_flags]
        citations = [c for c in [self.cite(variant.cite, choice.topic.document)] if c]
        note = " ".join(notes)
        return CodeDetermination(
            code=code,
            description=info.label,
            region=info.region.value,
            decision=decision,
            topic_id=choice.topic.id,
            topic_title=choice.topic.title,
            variant_id=variant.id,
            variant_title=variant.title,
            rating=rating.value if rating else None,
            criteria=findings,
            red_flags_present=flags_here,
            missing_documentation=missing,
            decision_changing_red_flags=changing,
            alternative_code=alternative,
            alternative_reason=(
                f"{self.criteria.codes.codes[alternative].label} is rated usually appropriate for this scenario"
                if alternative
                else None
            ),
            departures=self._departures(choice, info.procedure),
            citations=citations,
            rationale=note,
            confidence=CONFIDENCE_UNRATED_OR_CONTRADICTED if contradicted or not rating else CONFIDENCE_RATED_VARIANT,
        )


def _refs(cond: Condition | None) -> set[str]:
    if cond is None:
        return set()
    refs = {cond.criterion} if cond.criterion else set()
    for sub in [*(cond.all_ or []), *(cond.any_ or []), cond.not_]:
        refs |= _refs(sub)
    return refs
