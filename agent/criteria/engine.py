"""The criteria engine: one deterministic interpreter of the criteria files.

For each requested code: find the topics covering its region, select the variant the facts
match, read the variant's rating for the requested procedure, and turn it into a decision with
per-criterion findings, missing documentation and an alternative study. Two safety rules are
applied last and always: a red flag bearing on the code's region never yields a deny (refer
instead), and a code outside the knowledge base is referred, never judged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent.cases.determination import CodeDetermination, CriterionFinding, GuidelineCitation, NoteQuote
from agent.cases.model import Case, Decision
from agent.criteria.conditions import MET, Context, Outcome, bears_on, criterion_outcome
from agent.criteria.conditions import refs as _refs
from agent.criteria.model import RATING_ORDER, Cite, CodeInfo, Condition, CriteriaSet, ProcedureKind, Rating, Topic, Variant
from agent.facts.model import RED_FLAG_LABELS, ClinicalFacts, Evidence

Citer = Callable[[Cite, str], GuidelineCitation | None]
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
        if choice.decision == Decision.approve:
            choice.alternative = None  # an approved study needs no substitute
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

    def _undatable(self, primary: Context) -> list[str]:
        """The approval pathway's unmet criteria, as explanations, when each fails only because the
        documentation gives no dates for what it states (care taken for an unknown time); else []."""
        pathway = primary.topic.variant(primary.topic.approval_pathway)
        refs = _refs(pathway.when) | (_refs(pathway.policy.when) if pathway.policy else set())
        outcomes = [criterion_outcome(primary, Condition(criterion=c)) for c in sorted(refs)]
        unmet = [o for o in outcomes if o.status != MET]
        if not unmet or not all(o.undatable for o in unmet):
            return []
        return [o.explanation for o in unmet]

    def _findings(self, primary: Context) -> list[CriterionFinding]:
        findings = []
        for crit in primary.topic.criteria:
            outcome = criterion_outcome(primary, Condition(criterion=crit.id))
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
        undated = self._undatable(primary) if decision == Decision.deny and not flags_here else []
        if undated:
            decision = Decision.refer  # the rules reader cannot date what decides: a physician judges it
            notes.append(
                f"Refer {info.label} to a physician reviewer: the approval criteria fail only on "
                f"{'; '.join(undated)}, and the reader cannot count weeks it cannot date, so it does not deny."
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
            confidence=CONFIDENCE_UNRATED_OR_CONTRADICTED if contradicted or undated or not rating else CONFIDENCE_RATED_VARIANT,
        )
