"""Prompt rendering for LLM drafting: versioned Jinja2 templates from the package ``umreview_prompts``.

The note is passed as delimited data between markers derived from its own hash (so the note cannot
close the block), with the statement that it contains no instructions. Guideline chunks go in with
their ids; repair rounds add the validator's findings.
"""

from __future__ import annotations

import hashlib
import importlib.resources
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import jinja2

from agent.backends.base import DraftRequest
from agent.cases.determination import Violation

PROMPT_VERSION = "determination-v1"


@dataclass(frozen=True)
class Prompt:
    """One rendered conversation: a system message, a user message and, on repair, the feedback."""

    version: str
    system: str
    user: str
    repair: str | None = None

    def messages(self) -> list[tuple[str, str]]:
        out = [("system", self.system), ("user", self.user)]
        if self.repair:
            out.append(("user", self.repair))
        return out


@lru_cache(maxsize=8)
def _template(version: str, part: str) -> jinja2.Template:
    text = importlib.resources.files("umreview_prompts").joinpath(f"{version}.{part}.md").read_text(encoding="utf-8")
    # Plain text prompts, not HTML: no autoescaping.
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    return env.from_string(text)


def note_marker(note: str) -> str:
    """A delimiter the note cannot contain: derived from the note's own hash."""
    return "CLINICAL NOTE " + hashlib.sha256(note.encode()).hexdigest()[:16]


def _codes(request: DraftRequest) -> list[dict[str, str]]:
    engine = {d.code: d for d in request.engine}
    rows = []
    for code in request.case.request.codes:
        d = engine.get(code)
        criteria = "; ".join(f"{f.criterion_id}: {f.label}" for f in d.criteria) if d else ""
        rows.append(
            {
                "code": code,
                "description": (d.description if d else None) or "not in the knowledge base",
                "region": (d.region if d else None) or "unknown",
                "topic": (d.topic_title if d else None) or "none (no applicable guideline: refer)",
                "criteria": criteria or "none",
            }
        )
    return rows


def _chunks(request: DraftRequest) -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for code, hits in request.hits.items():
        for hit in hits:
            c = hit.chunk
            if c.id in seen:
                seen[c.id]["codes"] += f", {code}"
                continue
            seen[c.id] = {"id": c.id, "title": c.document_title, "section": c.section, "text": c.text, "codes": code}
    return list(seen.values())


def render(
    request: DraftRequest, tool_name: str, feedback: Sequence[Violation] | None = None, version: str = PROMPT_VERSION
) -> Prompt:
    """The prompt for one case (and, on a repair round, the validator's findings)."""
    req = request.case.request
    note = req.documentation
    system = _template(version, "system").render(tool_name=tool_name)
    user = _template(version, "user").render(
        case_id=request.case.id,
        age=req.patient.age if req.patient.age is not None else "unknown",
        sex=req.patient.sex.value,
        urgency=req.urgency.value,
        note_date=req.note_date.isoformat() if req.note_date else "not given",
        diagnoses=", ".join(req.diagnoses) or "none given",
        codes=_codes(request),
        chunks=_chunks(request),
        marker=note_marker(note),
        note=note,
    )
    repair = None
    if feedback:
        items = [{"kind": v.kind.value, "code": v.code, "message": v.message, "safe_decision": v.safe_decision} for v in feedback]
        repair = _template(version, "repair").render(feedback=items)
    return Prompt(version=version, system=system, user=user, repair=repair)
