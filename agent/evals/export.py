"""Physicians' signed decisions become labeled cases: ``umreview eval export --from-audit OUT/``.

Every review a physician signed (upheld or overturned) is written to ``OUT/<review id>.yaml`` in the
case format, so ``umreview eval OUT/ --baseline ...`` gates the next change on the team's own decisions:

* ``expected.decisions``: the physician's final decision per code (the recommendation, with overturns applied);
* ``expected.notes``: what the physician decided and the reason they gave;
* ``expected.red_flags``: the red flags of the signed determination (the physician signed a review that
  showed them; sign-off does not label red flags separately), ``expected.alternatives`` its alternative
  codes for codes that stay denied;
* ``expected.source``: provenance (review id, original case id, signer, sign time, recommendation,
  backend, model, prompt, criteria set and version, knowledge-base version).

Unsigned reviews (status ``recommendation``) are never exported: a recommendation is not a label.
The files hold the note text (PHI): they are written to ``OUT`` only, owner-readable, and nothing of the
note is logged or returned.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from agent.cases.model import Case, Decision, Expected, LabelSource
from agent.errors import ExportError
from agent.store.files import FILE_MODE, private_dir
from agent.store.reviews import ReviewRecord, Store


class ExportedCase(BaseModel):
    """One labeled case written by the export (no note text)."""

    review_id: str
    file: str = Field(description="file name inside OUT")
    signed_at: datetime
    sign_decision: str
    decisions: dict[str, Decision]
    overturned_codes: list[str] = Field(default_factory=list)


class ExportResult(BaseModel):
    """What ``export_signed`` wrote, and what it left out and why."""

    out_dir: str
    since: date | None = None
    written: list[ExportedCase] = Field(default_factory=list)
    skipped_unsigned: int = Field(default=0, description="reviews not signed by a physician (never labels)")
    skipped_before_since: int = Field(default=0, description="signed before --since")
    skipped_other_policy: int = Field(default=0, description="made under another criteria set than --policy")
    criteria_sets: list[str] = Field(default_factory=list, description="criteria sets of the written cases")


def labeled_case(record: ReviewRecord) -> Case:
    """The stored case with the physician's decisions as its labels; raises ``ExportError`` if unsigned."""
    signoff = record.signoff
    if signoff is None or not record.is_final:
        raise ExportError(f"review {record.id} is not signed by a physician; only signed reviews become labels")
    det = record.determination
    final = record.final_decisions
    changes = signoff.changes
    if changes:
        moved = "; ".join(f"{code} {c['from']} -> {c['to']}" for code, c in changes.items())
        notes = f"Physician overturned the recommendation ({moved})" + (f": {signoff.reason}" if signoff.reason else "")
    else:
        notes = "Physician upheld the recommendation" + (f": {signoff.reason}" if signoff.reason else "")
    alternatives = {
        d.code: d.alternative_code
        for d in det.determinations
        if d.alternative_code and final.get(d.code) == Decision.deny and d.code in record.case.request.codes
    }
    source = LabelSource(
        review_id=record.id,
        case_id=record.case_id,
        signed_by=signoff.reviewer,
        credentials=signoff.credentials or None,
        signed_at=signoff.at,
        sign_decision=signoff.decision,
        recommended=dict(record.recommendations),
        reviewed_at=record.created_at,
        backend=record.backend,
        model=record.model,
        prompt_version=record.prompt_version,
        criteria_set=record.criteria_set,
        criteria_version=record.criteria_version,
        kb_version=record.kb_version,
    )
    expected = Expected(
        decisions={code: final[code] for code in record.case.request.codes if code in final},
        red_flags=sorted(set(det.red_flags)),
        alternatives=alternatives,
        notes=notes,
        source=source,
    )
    return record.case.model_copy(update={"id": record.id, "expected": expected})


class _Literal(str):
    """A multi-line string written as a YAML block (``|``) where YAML allows it (PyYAML falls back otherwise)."""


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def _blocks(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _blocks(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blocks(v) for v in value]
    if isinstance(value, str) and "\n" in value:
        return _Literal(value)
    return value


def case_yaml(case: Case) -> str:
    """The case as case-format YAML (notes as readable blocks); loads back to an equal ``Case``."""
    data = case.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
    return yaml.dump(_blocks(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def _write_private(path: Path, text: str) -> None:
    """Write atomically, readable by the owner only (the file holds the note)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _prepare_out(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"{out_dir}: is a file; give a directory for the exported cases (it is created if missing)")
    try:
        private_dir(out_dir)  # the cases hold note text: owner-only, like the data directory
    except OSError as exc:
        raise ExportError(
            f"{out_dir}: cannot create the export directory ({exc.__class__.__name__}); choose another OUT"
        ) from None


def export_signed(store: Store, out_dir: Path, *, since: date | None = None, policy: str | None = None) -> ExportResult:
    """Write every signed review (signed on or after ``since``, made under ``policy`` if given) to
    ``out_dir/<review id>.yaml``. Re-running rewrites the same files with the same content."""
    _prepare_out(out_dir)
    result = ExportResult(out_dir=str(out_dir), since=since)
    start = datetime.combine(since, time.min, tzinfo=UTC) if since else None
    sets: set[str] = set()
    for record in sorted(store.list_reviews(), key=lambda r: (r.created_at, r.id)):
        if record.signoff is None or not record.is_final:
            result.skipped_unsigned += 1
            continue
        if start is not None and record.signoff.at < start:
            result.skipped_before_since += 1
            continue
        if policy is not None and record.criteria_set != policy:
            result.skipped_other_policy += 1
            continue
        case = labeled_case(record)
        name = f"{record.id}.yaml"
        try:
            _write_private(out_dir / name, case_yaml(case))
        except OSError as exc:
            raise ExportError(
                f"{out_dir / name}: cannot write ({exc.__class__.__name__}); check the directory's permissions"
            ) from None
        assert case.expected is not None  # set by labeled_case
        sets.add(record.criteria_set)
        result.written.append(
            ExportedCase(
                review_id=record.id,
                file=name,
                signed_at=record.signoff.at,
                sign_decision=record.signoff.decision,
                decisions=dict(case.expected.decisions),
                overturned_codes=sorted(record.signoff.changes),
            )
        )
    result.criteria_sets = sorted(sets)
    return result
