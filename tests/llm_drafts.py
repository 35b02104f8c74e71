"""Scripted LLM replies in the ``DeterminationDraft`` schema, built from the rules engine's answer.

``faithful(request)`` is what a careful model would draft: the engine's decisions, quotes that are
verbatim in the note and citations that are verbatim in their chunks. Tests derive faulty replies
from it with small edits, so each scripted fault differs from a valid reply in one respect.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from agent.backends.base import DraftRequest
from agent.backends.offline import OfflineBackend


def faithful(request: DraftRequest) -> dict[str, Any]:
    det = OfflineBackend().draft(request)
    facts = request.facts
    codes = []
    for d in det.determinations:
        criteria = []
        for f in d.criteria:
            item: dict[str, Any] = {"criterion_id": f.criterion_id, "status": f.status.value, "explanation": f.explanation}
            if f.note_quotes:
                item["note_quote"] = f.note_quotes[0].text
            if f.citation:
                item["citation"] = {"chunk_id": f.citation.chunk_id, "guideline_quote": f.citation.quote}
            criteria.append(item)
        codes.append(
            {
                "code": d.code,
                "decision": d.decision.value,
                "criteria": criteria,
                "red_flags": d.red_flags_present,
                "missing_documentation": d.missing_documentation,
                "citations": [{"chunk_id": c.chunk_id, "guideline_quote": c.quote} for c in d.citations],
                "rationale": f"Scripted rationale for {d.code}.",
                "confidence": 0.8,
            }
        )
    flags = [  # a flag known only from a diagnosis code has no note quote to give
        {"flag": f, "note_quote": facts.red_flags[f].evidence[0].quote}
        for f in facts.present_flags()
        if facts.red_flags[f].evidence
    ]
    return {
        "note_reading": {"red_flags": flags, "conservative_care_weeks": facts.conservative_care.total_weeks},
        "codes": codes,
        "instructions_in_note": [e.quote for e in facts.injections],
        "summary": "Scripted draft.",
    }


def with_decision(args: dict[str, Any], code: str, decision: str) -> dict[str, Any]:
    out = copy.deepcopy(args)
    for c in out["codes"]:
        if c["code"] == code:
            c["decision"] = decision
    return out


def with_first_citation_quote(args: dict[str, Any], quote: str) -> dict[str, Any]:
    out = copy.deepcopy(args)
    crit = next(c for code in out["codes"] for c in code["criteria"] if c.get("citation"))
    crit["citation"]["guideline_quote"] = quote
    return out


def with_first_note_quote(args: dict[str, Any], quote: str) -> dict[str, Any]:
    out = copy.deepcopy(args)
    crit = next(c for code in out["codes"] for c in code["criteria"] if c.get("note_quote"))
    crit["note_quote"] = quote
    return out


def with_reading(args: dict[str, Any], *, flags: list[dict[str, str]] | None = None, weeks: float | None = None) -> dict:
    out = copy.deepcopy(args)
    if flags is not None:
        out["note_reading"]["red_flags"] = flags
    out["note_reading"]["conservative_care_weeks"] = weeks
    return out


_CODE_LINE = re.compile(r"^- ([A-Za-z0-9]{4,7}): ", re.MULTILINE)


def refer_all(body: dict[str, Any]) -> dict[str, Any]:
    """A minimal valid reply for any request: refer every requested code (read from the prompt)."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    codes = _CODE_LINE.findall(user.split("Guideline excerpts", 1)[0])
    return {
        "note_reading": {"red_flags": [], "conservative_care_weeks": None},
        "codes": [{"code": c, "decision": "refer", "rationale": "Scripted: refer to a physician reviewer."} for c in codes],
        "summary": "Scripted refer.",
    }
