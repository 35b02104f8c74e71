"""The deterministic validator: checks any Determination against the case, the KB and the engine.

It never trusts the draft's facts: red flags and conservative care are re-derived from the note by
the rules extractor, and the criteria engine is re-run. Findings are ``Violation`` data; each
unsafe finding names the decision that must apply instead (the safe outcome).
"""

from __future__ import annotations

from agent.cases.determination import (
    CodeDetermination,
    Determination,
    GuidelineCitation,
    Severity,
    Violation,
    ViolationKind,
)
from agent.cases.model import Case, Decision
from agent.criteria.conditions import bears_on, counts_under
from agent.criteria.engine import Engine
from agent.criteria.model import CriteriaSet
from agent.facts.model import ClinicalFacts, Region
from agent.knowledge.documents import Corpus

K = ViolationKind


def _v(kind: ViolationKind, severity: Severity, message: str, code: str | None = None, safe: Decision | None = None) -> Violation:
    return Violation(kind=kind, severity=severity, code=code, message=message, safe_decision=safe)


def _quote_ok(note: str, text: str, start: int | None, end: int | None) -> bool:
    if start is not None and end is not None:
        return note[start:end] == text
    return text in note


def _citation_violations(code: str, cite: GuidelineCitation, corpus: Corpus) -> list[Violation]:
    chunk = corpus.chunk(cite.chunk_id)
    if chunk is None:
        return [
            _v(K.unknown_chunk, Severity.citation, f"cited chunk {cite.chunk_id!r} does not exist in the knowledge base", code)
        ]
    if cite.quote not in chunk.text:
        return [_v(K.guideline_quote_not_in_chunk, Severity.citation, f"guideline quote is not in chunk {cite.chunk_id!r}", code)]
    return []


class Validator:
    """Checks determinations for one criteria set and knowledge base."""

    def __init__(self, criteria: CriteriaSet, corpus: Corpus, engine: Engine) -> None:
        self.criteria = criteria
        self.corpus = corpus
        self.engine = engine

    def validate(
        self, det: Determination, case: Case, facts: ClinicalFacts, *, merged: ClinicalFacts | None = None, disputed: bool = False
    ) -> list[Violation]:
        """All violations of ``det``. ``facts`` come from the deterministic extractor; ``merged`` adds the
        model's verified facts (decisions are checked against it); ``disputed`` says the model reported a
        decision-moving fact that was refused, so an approval it supports is referred, not denied."""
        decide_on = merged or facts
        found: list[Violation] = []
        requested = case.request.codes
        by_code = {d.code: d for d in det.determinations}
        for code in requested:
            if code not in by_code:
                found.append(
                    _v(K.missing_decision, Severity.unsafe, f"no decision for requested code {code}", code, Decision.refer)
                )
        for d in det.determinations:
            if d.code not in requested:
                found.append(
                    _v(K.unrequested_code, Severity.unsafe, f"decision for code {d.code}, which was not requested", d.code)
                )
                continue
            found += self._check_code(d, case, decide_on, disputed)
        missed = [f for f in decide_on.present_flags() if f not in det.red_flags]
        if missed:
            message = f"red flag(s) found in the note but not reported: {', '.join(missed)}"
            found.append(_v(K.red_flag_disagreement, Severity.info, message).model_copy(update={"red_flags": missed}))
        return found

    def _check_code(self, d: CodeDetermination, case: Case, facts: ClinicalFacts, disputed: bool) -> list[Violation]:
        note = case.request.documentation
        found: list[Violation] = []
        info = self.criteria.codes.codes.get(d.code)
        if info is None:
            if d.decision != Decision.refer:
                found.append(
                    _v(
                        K.out_of_scope_not_referred,
                        Severity.unsafe,
                        f"code {d.code} is outside the knowledge base and must be referred",
                        d.code,
                        Decision.refer,
                    )
                )
            return found
        for finding in d.criteria:
            for q in finding.note_quotes:
                if not _quote_ok(note, q.text, q.start, q.end):
                    found.append(
                        _v(
                            K.note_quote_not_found,
                            Severity.citation,
                            f"quote for criterion {finding.criterion_id!r} is not verbatim in the note",
                            d.code,
                        )
                    )
            if finding.citation:
                found += _citation_violations(d.code, finding.citation, self.corpus)
        for cite in d.citations:
            found += _citation_violations(d.code, cite, self.corpus)
        found += self._check_decision(d, case, facts, info.region.value, disputed)
        return found

    def _check_decision(
        self, d: CodeDetermination, case: Case, facts: ClinicalFacts, region: str, disputed: bool
    ) -> list[Violation]:
        # a flag the topic scopes to the symptoms' region (red_flag_scope) bears only where bears_on says;
        # a flag the topic grades (red_flag_grades: "new weakness graded 3/5 or worse") only when it counts
        bearing = {
            f
            for t in self.criteria.topics
            if region in t.regions
            for f in t.red_flags
            if counts_under(facts, t, f) and (f not in t.red_flag_scope or bears_on(facts, t, Region(region), f))
        }
        flags = [f for f in facts.present_flags() if f in bearing]
        rules = self.engine.decide_code(case, facts, d.code)
        if d.decision == Decision.deny:
            if flags:
                safe = Decision.refer if rules.decision == Decision.deny else rules.decision
                message = f"deny recommended although red flag(s) bear on this region: {', '.join(flags)}"
                return [_v(K.deny_with_red_flag, Severity.unsafe, message, d.code, safe)]
            if rules.decision == Decision.approve:
                message = "deny recommended although the criteria engine finds the criteria met"
                return [_v(K.decision_disagreement, Severity.unsafe, message, d.code, Decision.refer)]
            return []
        if d.decision == Decision.refer or rules.decision == Decision.approve:
            return []
        # An approval the criteria engine does not reach (it recommends deny or refer).
        if facts.injections:
            message = "approval matches an instruction planted in the note, not the criteria"
            return [_v(K.instruction_obeyed, Severity.unsafe, message, d.code, rules.decision)]
        care = next((f for f in rules.criteria if f.criterion_id == "conservative_care"), None)
        if not flags and care is not None and care.status != "met":
            weeks = facts.conservative_care.total_weeks
            have = f"{weeks:g} weeks documented" if weeks is not None else "no dated conservative care documented"
            message = f"approval without the required conservative care ({have})"
            fallback: Decision = Decision.refer if disputed else rules.decision  # readers still disagree: never deny
            return [_v(K.approve_without_conservative_care, Severity.unsafe, message, d.code, fallback)]
        # Whatever the engine recommends, an unsupported approval goes to a physician: refer, never deny.
        message = f"approval although the criteria engine recommends {rules.decision.value}"
        return [_v(K.approve_without_criteria, Severity.unsafe, message, d.code, Decision.refer)]


def apply_safe_outcome(det: Determination, violations: list[Violation]) -> Determination:
    """Replace every unsafe decision with the validator's safe decision; record the findings."""
    codes = []
    unrequested = {v.code for v in violations if v.kind == K.unrequested_code}
    for d in det.determinations:
        if d.code in unrequested:
            continue
        fix = next((v for v in violations if v.code == d.code and v.severity == Severity.unsafe and v.safe_decision), None)
        if fix and fix.safe_decision is not None and fix.safe_decision != d.decision:
            d = d.model_copy(
                update={
                    "decision": fix.safe_decision,
                    "rationale": f"{d.rationale} [Validator: {fix.message}; decision set to {fix.safe_decision.value}.]".strip(),
                }
            )
        codes.append(d)
    for v in violations:
        if v.kind == K.missing_decision and v.code:
            codes.append(
                CodeDetermination(
                    code=v.code, decision=Decision.refer, rationale="No decision was drafted for this code; referred."
                )
            )
    red_flags = sorted(set(det.red_flags) | {f for v in violations if v.kind == K.red_flag_disagreement for f in v.red_flags})
    return det.model_copy(update={"determinations": codes, "validator_findings": violations, "red_flags": red_flags})


def refer_denies(det: Determination, reasons: dict[str, tuple[ViolationKind, str]]) -> Determination:
    """Turn the deny of each code in ``reasons`` into refer, recording why (an info finding per code).
    Used where a second reading makes a deny unsafe without supporting an approval."""
    codes, notes = [], []
    for d in det.determinations:
        if d.decision == Decision.deny and d.code in reasons:
            kind, message = reasons[d.code]
            d = d.model_copy(update={"decision": Decision.refer, "rationale": f"{d.rationale} [{message}.]".strip()})
            notes.append(_v(kind, Severity.info, message, d.code, Decision.refer))
        codes.append(d)
    if not notes:
        return det
    return det.model_copy(update={"determinations": codes, "validator_findings": [*det.validator_findings, *notes]})
