"""The offline backend: the rules engine's result with templated prose. No language model.

It says so in every determination it writes; it is fast, free and reproducible, and its
determinations pass the validator by construction (tests hold it to that).
"""

from __future__ import annotations

from typing import Literal

from agent import ENGINE_VERSION
from agent.backends.base import DraftRequest
from agent.cases.determination import (
    CodeDetermination,
    CriterionStatus,
    Determination,
    NoteQuote,
    Provenance,
    Violation,
)
from agent.cases.model import Decision
from agent.facts.model import RED_FLAG_LABELS

RULES_NOTICE = "Drafted by the umreview rules engine (deterministic criteria and templated text; no language model was used)."


def rationale(d: CodeDetermination) -> str:
    """Plain, templated reasoning for one code, built only from the engine's findings."""
    label = d.description or f"code {d.code}"
    if d.rationale:
        return d.rationale  # the engine explained a special case (out of scope, contradictory documentation)
    if d.topic_id is None:
        return d.rationale or f"{label}: no applicable guideline in the knowledge base; route to a physician reviewer."
    scenario = f"{d.topic_title}, {d.variant_title}" + (f" ({d.rating})" if d.rating else "")
    met = [c.label.lower() for c in d.criteria if c.status == CriterionStatus.met and c.role == "required"]
    unmet = [c.label.lower() for c in d.criteria if c.status != CriterionStatus.met and c.role == "required"]
    flags = ", ".join(RED_FLAG_LABELS[f].split(" (")[0] for f in d.red_flags_present)
    if d.decision == Decision.approve:
        why = (
            f"red flag present: {flags}" if flags else ("criteria met: " + "; ".join(met) if met else "rated usually appropriate")
        )
        return f"Recommend approval of {label}. Scenario: {scenario}. {why[0].upper() + why[1:]}."
    if d.decision == Decision.deny:
        text = f"Recommend denial of {label}, pending physician review. Scenario: {scenario}."
        if unmet:
            text += " Not met or not documented: " + "; ".join(unmet) + "."
        if d.alternative_code:
            text += f" A better-supported study is {d.alternative_code} ({d.alternative_reason})."
        return text
    reason = (
        f"a red flag is present ({flags}), so a denial is not recommended"
        if flags
        else "the rating for this study leaves it to clinical judgement"
        if d.rating
        else "this study is not rated for the scenario"
    )
    return f"Refer {label} to a physician reviewer: {reason}. Scenario: {scenario}."


class OfflineBackend:
    """Backend protocol implementation over the deterministic engine."""

    name = "offline"
    kind: Literal["rules", "llm"] = "rules"
    model: str | None = None
    prompt_version: str | None = None

    def draft(self, request: DraftRequest, feedback: list[Violation] | None = None) -> Determination:
        codes = [d.model_copy(update={"rationale": rationale(d)}) for d in request.engine]
        counts = {k: sum(1 for d in codes if d.decision == k) for k in Decision}
        summary = (
            f"{len(codes)} code(s): {counts[Decision.approve]} approve, {counts[Decision.deny]} deny "
            f"(recommendation), {counts[Decision.refer]} refer. {RULES_NOTICE}"
        )
        return Determination(
            case_id=request.case.id,
            determinations=codes,
            red_flags=request.facts.present_flags(),
            injection_quotes=[NoteQuote(text=e.quote, start=e.start, end=e.end) for e in request.facts.injections],
            summary=summary,
            retrieved={code: [h.chunk.id for h in hits] for code, hits in request.hits.items()},
            provenance=Provenance(
                backend=self.name,
                backend_kind=self.kind,
                engine_version=ENGINE_VERSION,
                criteria_set=request.criteria_set,
                criteria_version=request.criteria_version,
                kb_version=request.kb_version,
            ),
        )
