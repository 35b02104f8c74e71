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
from agent.criteria.model import RATING_ORDER, Cite, CodeInfo, Condition, CriteriaSet, Rating, Topic, Variant
from agent.facts.model import RED_FLAG_LABELS, ClinicalFacts, Evidence, FactStatus, Region

Citer = Callable[[Cite, str], GuidelineCitation | None]
MET, NOT_MET, UNDOC = CriterionStatus.met, CriterionStatus.not_met, CriterionStatus.not_documented
MODALITY_PREFERENCE = ("mri_wo", "xr", "ct_wo", "mri_wwo", "mri_with", "ct_wwo", "ct_with")
# The confidence the engine reports with a decision: a fixed rule (a code outside the criteria set is
# referred) is certain; a guideline variant that rates the procedure is high; a variant without a rating
# for it, or documentation that contradicts itself, is a coin toss the physician settles.
CONFIDENCE_FIXED_RULE = 1.0
CONFIDENCE_RATED_VARIANT = 0.9
CONFIDENCE_UNRATED_OR_CONTRADICTED = 0.5


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


def _red_flag(ctx: Context, cond: Condition) -> Outcome:
    flags = ctx.topic.red_flags if cond.red_flag == "any" else [cond.red_flag or ""]
    present = [f for f in flags if f in ctx.topic.red_flags and ctx.facts.red_flags[f].status == FactStatus.present]
    if present:
        evidence = [e for f in present for e in ctx.facts.red_flags[f].evidence]
        return Outcome(MET, evidence, "red flag present: " + ", ".join(present))
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


def _conservative_care(ctx: Context, cond: Condition) -> Outcome:
    care = ctx.facts.conservative_care
    window = cond.recent_conservative_care
    need = window.weeks if window else cond.conservative_care_weeks or 0
    if care.status == FactStatus.not_documented:
        return Outcome(UNDOC, [], "no conservative care documented")
    if care.status == FactStatus.absent:
        return Outcome(NOT_MET, care.evidence, "conservative care documented as not done")
    names = ", ".join(m.name for m in care.modalities if m.status == FactStatus.present)
    if care.total_weeks is None:
        return Outcome(UNDOC, care.evidence, f"{names} documented without dates or duration")
    weeks = care.total_weeks
    explanation = f"{round(weeks, 1):g} weeks of documented treatment ({names}); {need:g} required"
    if window is not None:
        note_date = ctx.case.request.note_date
        weeks = care.weeks_within(window.within_weeks, note_date) or 0.0
        if note_date is None:
            explanation += f"; the note has no date, so the {window.within_weeks:g}-week window could not be checked"
        else:
            explanation = (
                f"{round(weeks, 1):g} weeks of documented treatment ({names}) in the {window.within_weeks:g} weeks "
                f"before {note_date.isoformat()}; {need:g} required"
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
    ok = ctx.case.request.patient.age >= (cond.age_min or 0)
    return Outcome(MET if ok else NOT_MET, [], f"age {ctx.case.request.patient.age}")


_HANDLERS: dict[str, Callable[[Context, Condition], Outcome]] = {
    "all_": _all,
    "any_": _any,
    "not_": _not,
    "red_flag": _red_flag,
    "fact": _fact,
    "conservative_care_weeks": _conservative_care,
    "recent_conservative_care": _conservative_care,
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
        contexts = [Context(case, facts, info.region, t) for t in self.criteria.topics_for(info.region)]
        contexts = [c for c in contexts if c.topic.only_when is None or c.evaluate(c.topic.only_when).status == MET]
        if not contexts:
            return CodeDetermination(
                code=code,
                description=info.label,
                region=info.region.value,
                decision=Decision.refer,
                rationale=f"No guideline in the criteria set covers the {info.region.value} region.",
            )
        choice = self._choose_variant(contexts, info)
        primary = contexts[0]
        return self._build(code, info, choice, primary)

    def _choose_variant(self, contexts: list[Context], info: CodeInfo) -> _Choice:
        def rank(choice: _Choice) -> int:
            rating = choice.variant.ratings.get(info.procedure)
            return RATING_ORDER.get(rating, 0) if rating else 0

        red = [
            _Choice(c.topic, v, c)
            for c in contexts
            for v in c.topic.variants
            if v.kind == "red_flag" and v.when is not None and c.evaluate(v.when).status == MET
        ]
        if red:
            best = max(rank(ch) for ch in red)
            return next(ch for ch in red if rank(ch) == best)
        for c in contexts:
            for v in c.topic.variants:
                if v.kind == "pathway" and v.when is not None and c.evaluate(v.when).status == MET:
                    return _Choice(c.topic, v, c)
        for c in contexts:
            default = next((v for v in c.topic.variants if v.kind == "default"), None)
            if default:
                return _Choice(c.topic, default, c)
        c = contexts[0]
        return _Choice(c.topic, c.topic.variant(c.topic.approval_pathway), c)

    def _alternative(self, info: CodeInfo, variant: Variant) -> str | None:
        for kind in MODALITY_PREFERENCE:
            if kind != info.procedure and variant.ratings.get(kind) == Rating.UA:  # type: ignore[call-overload]  # literal keys
                alt = self.criteria.codes.code_for(info.region, kind)
                if alt:
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

    def _build(self, code: str, info: CodeInfo, choice: _Choice, primary: Context) -> CodeDetermination:
        policy = self.criteria.policy
        variant = choice.variant
        rating = variant.ratings.get(info.procedure)
        alternative = self._alternative(info, variant) if rating != Rating.UA else None
        if rating is None:
            decision = Decision.refer
        elif rating == Rating.MBA and variant.mba_decision:
            decision = variant.mba_decision
        elif rating == Rating.MBA and alternative:
            decision = policy.mba_with_usual_alternative
        else:
            decision = policy.rating_decisions[rating]
        flags_here = sorted(
            {
                f
                for c in (primary, choice.context)
                for f in c.topic.red_flags
                if primary.facts.red_flags[f].status == FactStatus.present
            }
        )
        if flags_here and decision == Decision.deny:
            decision = Decision.refer  # safety: a red flag bearing on this region never yields a deny
        findings = self._findings(primary)
        conflicted = [c for c in _refs(variant.when) if c in primary.cache and primary.cache[c].conflict]
        note = ""
        if decision == Decision.approve and variant.kind == "pathway" and conflicted:
            decision = Decision.refer  # the note contradicts itself on a criterion the approval rests on
            labels = "; ".join(primary.topic.criterion(c).label.lower() for c in conflicted)
            note = (
                f"Refer {info.label} to a physician reviewer: the documentation contradicts itself on {labels} "
                f"({'; '.join(primary.cache[c].explanation for c in conflicted)}), so the criteria cannot be judged."
            )
        roles = {c.id: c.role for c in primary.topic.criteria}
        missing, changing = [], []
        if decision == Decision.deny:
            pathway = primary.topic.variant(primary.topic.approval_pathway)
            refs = _refs(pathway.when)
            for f in findings:
                crit = primary.topic.criterion(f.criterion_id)
                wanted = f.criterion_id in refs or roles[f.criterion_id] == "supporting"
                if wanted and f.status != MET and crit.missing:
                    missing.append(crit.missing)
            changing = [RED_FLAG_LABELS[f] for f in primary.topic.red_flags]
        citations = [c for c in [self.cite(variant.cite, choice.topic.document)] if c]
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
            citations=citations,
            rationale=note,
            confidence=CONFIDENCE_RATED_VARIANT if rating and not note else CONFIDENCE_UNRATED_OR_CONTRADICTED,
        )


def _refs(cond: Condition | None) -> set[str]:
    if cond is None:
        return set()
    refs = {cond.criterion} if cond.criterion else set()
    for sub in [*(cond.all_ or []), *(cond.any_ or []), cond.not_]:
        refs |= _refs(sub)
    return refs
