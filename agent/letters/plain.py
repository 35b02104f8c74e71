"""Plain-language views of a determination's findings, for the letter templates.

Everything here restates what the determination already records (criterion labels and statuses,
missing documentation, code descriptions, topic titles) in the words of
``templates/plain_language.yaml``; a number appears only if the finding's own label carries it.
"""

from __future__ import annotations

import importlib.resources
import re
from functools import cache
from typing import Any

import yaml

from agent.cases.determination import CodeDetermination, CriterionFinding, CriterionStatus

PUBLISHERS = {"ACR ": "American College of Radiology (ACR)"}  # title prefix -> publisher named in member letters
RATING_LABELS = {"UA": "usually appropriate", "MBA": "may be appropriate", "UNA": "usually not appropriate"}


@cache
def plain_language() -> dict[str, Any]:
    text = importlib.resources.files("agent.letters").joinpath("templates/plain_language.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


# --- plain-language views of the determination's findings -------------------------------------------


def _weeks(label: str) -> str | None:
    match = re.search(r"(\d+)\s+weeks?\b", label)
    return match.group(1) if match else None


def criterion_phrase(finding: CriterionFinding, key: str) -> str | None:
    """The phrasebook's ``key`` wording for a finding, numbers taken only from the finding's label."""
    entry = plain_language()["criteria"].get(finding.criterion_id)
    if entry is None:
        return None
    weeks = _weeks(finding.label)
    text = entry.get(key) if weeks or f"{key}_no_number" not in entry else entry[f"{key}_no_number"]
    if text is None or ("{weeks}" in text and weeks is None):
        return None
    return text.format(weeks=weeks)


_FALLBACK_STATUS = {
    "met": "Your records show this.",
    "not_met": "Your records do not show this.",
    "not_documented": "We did not find this in your records.",
}


def service_names(code: str, description: str | None, region: str | None) -> tuple[str, str]:
    """("MRI scan of your lower back", "code 72158: pictures taken with an MRI machine of the lower back, ...")."""
    plain = plain_language()
    desc = description or ""
    modality = next((m for k, m in plain["modalities"].items() if desc.startswith(k)), None)
    where = plain["regions"].get(region or "")
    if modality is None or where is None:
        return "service your doctor asked for", f"code {code}: {desc or 'a service your doctor asked for'}"
    contrast = next((p for k, p in plain["contrast"] if k in desc), None)
    detail = modality["pictures"].format(where=where) + (f", {contrast}" if contrast else "")
    return f"{modality['name']} of your {where}", f"code {code}: {detail}"


def alternative(d: CodeDetermination) -> dict[str, str] | None:
    if not d.alternative_code:
        return None
    from agent.criteria.model import load_code_table
    from agent.knowledge.documents import builtin_guidelines_dir

    info = load_code_table(builtin_guidelines_dir()).codes.get(d.alternative_code)
    label = info.label if info else None
    name, note = service_names(d.alternative_code, label, d.region)
    return {"code": d.alternative_code, "description": label or "", "plain_name": name, "code_note": note}


def service_view(d: CodeDetermination) -> dict[str, Any]:
    plain = plain_language()
    name, note = service_names(d.code, d.description, d.region)
    blocking = [f for f in d.criteria if f.role == "required" and f.status != CriterionStatus.met]
    wanted = [f for f in d.criteria if f.role in ("required", "supporting") and f.status != CriterionStatus.met]
    reasons = [
        {
            "rule": criterion_phrase(f, "rule") or f"{f.label}.",
            "label": f.label,
            "status_text": f.status.value.replace("_", " "),
            "finding": f,
        }
        for f in blocking
    ]
    findings = []
    for f in d.criteria:
        said = criterion_phrase(f, f.status.value)
        if said is None and f.role != "info":
            said = f"{criterion_phrase(f, 'rule') or f.label.rstrip('.') + '.'} {_FALLBACK_STATUS[f.status.value]}"
        if said:
            findings.append(said)
    send = [criterion_phrase(f, "send") or f"Records that show: {f.label}." for f in wanted] if d.missing_documentation else []
    clinical = []
    for f in d.criteria:
        line = f"{f.label}: {f.status.value.replace('_', ' ')}" + (f" ({f.role})" if f.role != "required" else "")
        if f.note_quotes:
            line += " - note: " + "; ".join(f"“{q.text.replace(chr(10), ' ')}”" for q in f.note_quotes[:2])
        if f.explanation:
            line += f" - {f.explanation}"
        clinical.append(line)
    for c in d.citations:
        clinical.append(f"Guideline ({c.document_title or c.chunk_id}): “{c.quote}”")
    if d.decision_changing_red_flags:
        clinical.append(
            "Documentation of any of these would change the recommendation: " + "; ".join(d.decision_changing_red_flags)
        )
    return {
        "code": d.code,
        "description": d.description or "",
        "plain_name": name,
        "code_note": note,
        "topic_title": d.topic_title or "the applicable guideline",
        "variant_title": d.variant_title or "not determined",
        "rating": d.rating,
        "rating_label": RATING_LABELS.get(d.rating or "", ""),
        "rating_text": plain["ratings"].get(d.rating or ""),
        "reasons": reasons,
        "findings": findings,
        "send": send,
        "missing": d.missing_documentation,
        "clinical": clinical,
        "alternative": alternative(d),
    }


def guidelines(denied: list[CodeDetermination], views: list[dict[str, Any]]) -> list[dict[str, str]]:
    out: dict[str, dict[str, Any]] = {}
    for d, view in zip(denied, views, strict=True):
        title = d.topic_title or "the plan's medical policy"
        entry = out.setdefault(title, {"title": title, "codes": [], "names": []})
        entry["codes"].append(d.code)
        entry["names"].append(view["plain_name"])
    return [
        {
            "title": g["title"],
            "codes": ", ".join(g["codes"]),
            "used_for": " and the ".join(g["names"]),
            "publisher": next((p for prefix, p in PUBLISHERS.items() if g["title"].startswith(prefix)), ""),
        }
        for g in out.values()
    ]


def send_list(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records that could help, each once, with the services it is for."""
    items: dict[str, list[str]] = {}
    for view in views:
        for line in view["send"]:
            items.setdefault(line, []).append(view["plain_name"])
    return [{"text": text, "names": names} for text, names in items.items()]


def glossary(text: str) -> list[tuple[str, str]]:
    terms = plain_language()["glossary"]
    found = []
    for term, meaning in terms.items():
        pattern = rf"\b{re.escape(term)}\b" if term.isupper() else rf"\b{re.escape(term)}"
        if re.search(pattern, text, 0 if term.isupper() else re.IGNORECASE):
            found.append((term, meaning))
    return found
