"""Oversight of the recommendations: how often the physician's signed decision agrees with them.

The unit is one signed code: a code of a review a physician signed (upheld or overturned), with its
recommended decision and the physician's final one. From the audit store only, never from the note:

* **agreement** = codes whose final decision equals the recommendation / signed codes;
* **kappa** = Cohen's kappa of final (rows) against recommended (columns) decisions
  (``agent.evals.metrics.cohen_kappa``; 1 when both sides use one class only and agree);
* **overturn rate** = codes the physician changed / signed codes (so 1 - agreement);
* **deny -> approve** = recommended denials the physician overturned to approve: the unsafe pattern
  (the recommendation would have withheld care the physician found appropriate);

over time (buckets of the sign-off date) and broken down by criterion (each required criterion the
recommendation found not met or not documented; a code counts under each of its unmet criteria, or
under ``(all met)``), region, code, backend/model, prompt version and criteria set/version. The
**alert** fires when, over the last ``window_days`` of sign-offs, at least ``min_codes`` codes were
signed and the overturn rate is at or above ``threshold`` (settings ``UMREVIEW_OVERSIGHT_*``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from agent.cases.determination import CriterionStatus
from agent.cases.model import Decision
from agent.errors import OversightError
from agent.evals.metrics import DECISIONS, cohen_kappa, confusion_matrix, ratio
from agent.store.reviews import ReviewRecord, Store

Bucket = Literal["day", "week", "month"]
BUCKETS: tuple[Bucket, ...] = ("day", "week", "month")
ALL_MET = "(all met)"
NONE = "(none)"
DIMENSIONS: dict[str, str] = {  # key -> heading
    "criterion": "Criterion not met in the recommendation",
    "region": "Region",
    "code": "Code",
    "backend": "Backend / model",
    "prompt_version": "Prompt version",
    "criteria_version": "Criteria set and version",
}


class SignedCode(BaseModel):
    """One code of a signed review: the recommendation and the physician's final decision."""

    review_id: str
    code: str
    region: str
    recommended: Decision
    final: Decision
    signed_at: datetime
    signed_by: str
    reason: str | None = None
    backend: str = Field(description="backend, and /model when there is one")
    prompt_version: str
    criteria_version: str = Field(description="criteria set and version")
    criteria: list[str] = Field(description="required criteria the recommendation found unmet, or (all met)")

    @property
    def agreed(self) -> bool:
        return self.recommended == self.final

    @property
    def deny_to_approve(self) -> bool:
        return self.recommended == Decision.deny and self.final == Decision.approve

    def key(self, dimension: str) -> list[str]:
        return self.criteria if dimension == "criterion" else [str(getattr(self, dimension))]


class Agreement(BaseModel):
    """The figures of one group of signed codes (everything, a time bucket, or a breakdown row)."""

    key: str
    codes: int
    reviews: int
    agreed: int
    agreement: float | None
    kappa: float | None
    overturned: int
    overturn_rate: float | None
    deny_to_approve: int


class Overturn(BaseModel):
    """A code the physician changed, with the reason they gave."""

    review_id: str
    code: str
    region: str
    recommended: Decision
    final: Decision
    signed_at: datetime
    signed_by: str
    reason: str | None
    backend: str
    unsafe: bool = Field(description="recommended deny, overturned to approve")


class Reason(BaseModel):
    """One reason physicians gave for overturning (same text up to case and spacing), and how often."""

    reason: str
    codes: int
    reviews: int
    deny_to_approve: int


class Confusion(BaseModel):
    """Signed codes by final decision (rows) and recommended decision (columns)."""

    labels: list[str]
    matrix: list[list[int]]


class Alert(BaseModel):
    """The overturn-rate alert over the last ``window_days``."""

    threshold: float
    window_days: int
    min_codes: int
    window_start: datetime
    codes: int
    overturned: int
    rate: float | None
    triggered: bool
    message: str


class OversightReport(BaseModel):
    """``umreview oversight --json`` and the /oversight page."""

    format: Literal["umreview-oversight/1"] = "umreview-oversight/1"
    generated_at: datetime
    since: date | None = None
    bucket: Bucket
    reviews_signed: int
    reviews_overturned: int
    reviews_pending: int = Field(description="reviews not yet signed (not counted anywhere else)")
    overall: Agreement
    confusion: Confusion
    timeline: list[Agreement] = Field(description="one row per bucket of the sign-off date; key = the bucket's first day")
    breakdowns: dict[str, list[Agreement]] = Field(description="per dimension, rows sorted by overturn rate then size")
    overturns: list[Overturn]
    reasons: list[Reason]
    alert: Alert

    @property
    def unsafe(self) -> list[Overturn]:
        return [o for o in self.overturns if o.unsafe]


def _unmet(record: ReviewRecord, code: str) -> list[str]:
    found = next((d for d in record.determination.determinations if d.code == code), None)
    unmet = [
        f.criterion_id for f in (found.criteria if found else []) if f.role == "required" and f.status != CriterionStatus.met
    ]
    return list(dict.fromkeys(unmet)) or [ALL_MET]


def signed_codes(records: Iterable[ReviewRecord]) -> list[SignedCode]:
    """Every code of every signed review, oldest sign-off first; unsigned reviews give nothing."""
    rows: list[SignedCode] = []
    for rec in records:
        if rec.signoff is None or not rec.is_final:
            continue
        final = rec.final_decisions
        regions = {d.code: d.region for d in rec.determination.determinations}
        for code, recommended in rec.recommendations.items():
            rows.append(
                SignedCode(
                    review_id=rec.id,
                    code=code,
                    region=regions.get(code) or "unknown",
                    recommended=recommended,
                    final=final[code],
                    signed_at=rec.signoff.at,
                    signed_by=rec.signoff.reviewer,
                    reason=rec.signoff.reason,
                    backend=f"{rec.backend}/{rec.model}" if rec.model else rec.backend,
                    prompt_version=rec.prompt_version or NONE,
                    criteria_version=f"{rec.criteria_set} {rec.criteria_version}",
                    criteria=_unmet(rec, code),
                )
            )
    return sorted(rows, key=lambda r: (r.signed_at, r.review_id, r.code))


def agreement(key: str, rows: Sequence[SignedCode]) -> Agreement:
    """The figures of one group (see the module docstring for each definition)."""
    agreed = sum(r.agreed for r in rows)
    matrix = confusion_matrix((r.final.value, r.recommended.value) for r in rows)
    return Agreement(
        key=key,
        codes=len(rows),
        reviews=len({r.review_id for r in rows}),
        agreed=agreed,
        agreement=ratio(agreed, len(rows)),
        kappa=cohen_kappa(matrix),
        overturned=len(rows) - agreed,
        overturn_rate=ratio(len(rows) - agreed, len(rows)),
        deny_to_approve=sum(r.deny_to_approve for r in rows),
    )


def bucket_start(moment: datetime, bucket: Bucket) -> date:
    """The first day (UTC) of the bucket holding ``moment``: the day, the ISO week's Monday, the month's 1st."""
    day = moment.astimezone(UTC).date()
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def _grouped(rows: Sequence[SignedCode], keys: Callable[[SignedCode], list[str]]) -> dict[str, list[SignedCode]]:
    groups: dict[str, list[SignedCode]] = defaultdict(list)
    for row in rows:
        for key in keys(row):
            groups[key].append(row)
    return groups


def breakdown(rows: Sequence[SignedCode], dimension: str) -> list[Agreement]:
    """One row per value of ``dimension``: highest overturn rate first, then most codes, then by name."""
    if dimension not in DIMENSIONS:
        raise OversightError(f"unknown breakdown {dimension!r}; use one of {', '.join(DIMENSIONS)}")
    table = [agreement(k, g) for k, g in _grouped(rows, lambda r: r.key(dimension)).items()]
    return sorted(table, key=lambda a: (-(a.overturn_rate or 0.0), -a.codes, a.key))


def _normal(reason: str) -> str:
    return re.sub(r"\s+", " ", reason).strip().casefold()


def reasons(rows: Sequence[SignedCode]) -> list[Reason]:
    """Overturn reasons, most frequent first (same text up to case and spacing counts as one)."""
    overturned = [r for r in rows if not r.agreed]
    groups = _grouped(overturned, lambda r: [_normal(r.reason or "") or NONE])
    shown = {key: next((r.reason or NONE).strip() for r in g) for key, g in groups.items()}
    table = [
        Reason(
            reason=shown[key],
            codes=len(g),
            reviews=len({r.review_id for r in g}),
            deny_to_approve=sum(r.deny_to_approve for r in g),
        )
        for key, g in groups.items()
    ]
    return sorted(table, key=lambda r: (-r.codes, r.reason.casefold()))


def _percent(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def alert(rows: Sequence[SignedCode], *, now: datetime, threshold: float, window_days: int, min_codes: int) -> Alert:
    """Overturn rate over sign-offs in (now - window_days, now]: triggered at or above ``threshold``
    once ``min_codes`` codes were signed in the window."""
    start = now - timedelta(days=window_days)
    window = [r for r in rows if start < r.signed_at <= now]
    overturned = sum(not r.agreed for r in window)
    rate = ratio(overturned, len(window))
    triggered = len(window) >= min_codes and rate is not None and rate >= threshold
    if triggered:
        message = (
            f"ALERT: {overturned} of {len(window)} signed codes overturned in the last {window_days} days "
            f"({rate:.1%}), at or above the {_percent(threshold)} threshold"
        )
    elif len(window) < min_codes:
        message = f"no alert: {len(window)} signed code(s) in the last {window_days} days, fewer than the {min_codes} needed"
    else:
        message = (
            f"no alert: overturn rate {rate:.1%} over the last {window_days} days is below the {_percent(threshold)} threshold"
        )
    return Alert(
        threshold=threshold,
        window_days=window_days,
        min_codes=min_codes,
        window_start=start,
        codes=len(window),
        overturned=overturned,
        rate=rate,
        triggered=triggered,
        message=message,
    )


def build_report(
    records: Sequence[ReviewRecord],
    *,
    now: datetime,
    threshold: float,
    window_days: int,
    min_codes: int,
    since: date | None = None,
    bucket: Bucket = "week",
) -> OversightReport:
    """The report over ``records`` (signed ones count; sign-offs before ``since`` are left out, but the
    alert window always looks back from ``now``)."""
    if bucket not in BUCKETS:
        raise OversightError(f"unknown time bucket {bucket!r}; use one of {', '.join(BUCKETS)}")
    if not 0 <= threshold <= 1:
        raise OversightError(f"overturn alert threshold {threshold} is not a fraction between 0 and 1 (e.g. 0.2 for 20%)")
    if window_days < 1 or min_codes < 1:
        raise OversightError("the alert window (days) and the minimum number of signed codes must be at least 1")
    everything = signed_codes(records)
    start = datetime.combine(since, time.min, tzinfo=UTC) if since else None
    rows = [r for r in everything if start is None or r.signed_at >= start]
    signed = {r.review_id for r in rows}
    by_bucket = _grouped(rows, lambda r: [bucket_start(r.signed_at, bucket).isoformat()])
    overturns = [
        Overturn(
            review_id=r.review_id,
            code=r.code,
            region=r.region,
            recommended=r.recommended,
            final=r.final,
            signed_at=r.signed_at,
            signed_by=r.signed_by,
            reason=r.reason,
            backend=r.backend,
            unsafe=r.deny_to_approve,
        )
        for r in rows
        if not r.agreed
    ]
    return OversightReport(
        generated_at=now,
        since=since,
        bucket=bucket,
        reviews_signed=len(signed),
        reviews_overturned=len({o.review_id for o in overturns}),
        reviews_pending=sum(1 for r in records if r.signoff is None),
        overall=agreement("all", rows),
        confusion=Confusion(labels=list(DECISIONS), matrix=confusion_matrix((r.final.value, r.recommended.value) for r in rows)),
        timeline=[agreement(k, by_bucket[k]) for k in sorted(by_bucket)],
        breakdowns={d: breakdown(rows, d) for d in DIMENSIONS},
        overturns=sorted(overturns, key=lambda o: (not o.unsafe, o.signed_at, o.review_id, o.code)),
        reasons=reasons(rows),
        alert=alert(everything, now=now, threshold=threshold, window_days=window_days, min_codes=min_codes),
    )


def oversight_report(
    store: Store,
    *,
    threshold: float,
    window_days: int,
    min_codes: int,
    since: date | None = None,
    bucket: Bucket = "week",
    now: datetime | None = None,
) -> OversightReport:
    """The report over every review in the audit store."""
    return build_report(
        store.list_reviews(),
        now=now or datetime.now(UTC),
        threshold=threshold,
        window_days=window_days,
        min_codes=min_codes,
        since=since,
        bucket=bucket,
    )
