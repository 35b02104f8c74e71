"""Oversight figures (agreement, kappa, overturn rate, deny -> approve, alert) against a hand-computed table,
from hand-made records and from a real audit store (SQLite and PostgreSQL); ``umreview oversight``; the charts.

The data set (sign-offs at 10:00 UTC; weeks start Monday 2026-03-02, 03-09, 03-16):

| # | review | code  | region   | recommended -> final | unmet required criteria      | backend | prompt | criteria    | signed |
|---|--------|-------|----------|----------------------|------------------------------|---------|--------|-------------|--------|
| 1 | R1     | 72148 | lumbar   | deny -> deny         | conservative_care            | offline | p1     | acr-default | 03-03  |
| 2 | R2     | 72148 | lumbar   | deny -> approve (!)  | conservative_care            | offline | p1     | acr-default | 03-04  |
| 3 | R3     | 72141 | cervical | deny -> refer        | conservative_care, candidacy | openai  | d-v1   | acr-default | 03-05  |
| 4 | R4     | 72148 | lumbar   | approve -> approve   | (all met)                    | openai  | d-v1   | acr-default | 03-10  |
| 5 | R4     | 72141 | cervical | deny -> approve (!)  | candidacy                    | openai  | d-v1   | acr-default | 03-10  |
| 6 | R5     | 72146 | thoracic | refer -> refer       | (all met)                    | offline | p1     | payer-model | 03-11  |
| 7 | R6     | 72148 | lumbar   | approve -> approve   | (all met)                    | offline | p1     | acr-default | 03-12  |
| 8 | R8     | 72158 | lumbar   | deny -> deny         | conservative_care            | openai  | d-v2   | acr-default | 03-16  |
(openai: model gpt-4o-mini; d-v1, d-v2: prompts determination-v1 and -v2; acr-default is version 2024, payer-model 2026.2.)
R7 (72148, deny) is never signed: pending, counted nowhere.

Overall: 8 codes, 5 agree (0.625), 3 overturned (0.375), 2 deny -> approve. Confusion, final (rows) by
recommended (columns) approve/deny/refer: [[2, 2, 0], [0, 2, 0], [0, 1, 1]]; p_o = 5/8, p_e = .5*.25 +
.25*.625 + .25*.125 = .3125, kappa = .3125/.6875 = 0.4545. Each row below was worked out the same way.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pg_server import PgServer
from typer.testing import CliRunner

from agent.cases.determination import CodeDetermination, CriterionFinding, CriterionStatus, Determination, Provenance
from agent.cases.model import Case
from agent.cli.main import app
from agent.errors import OversightError
from agent.evals.charts import bars_svg, timeline_svg
from agent.evals.oversight import ALL_MET, OversightReport, build_report, oversight_report
from agent.settings import Settings
from agent.store.audit import ReviewStatus
from agent.store.reviews import ReviewRecord, SignOff, Store

runner = CliRunner()
NOW = datetime(2026, 3, 17, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Code:
    code: str
    region: str
    recommended: str
    final: str
    unmet: tuple[str, ...] = ()


@dataclass(frozen=True)
class Review:
    id: str
    codes: tuple[Code, ...]
    backend: str
    model: str | None
    prompt: str
    criteria_set: str
    criteria_version: str
    signed: datetime | None
    reason: str | None = None


def at(day: int) -> datetime:
    return datetime(2026, 3, day, 10, 0, tzinfo=UTC)


OFFLINE = ("offline", None, "p1")
OPENAI = ("openai", "gpt-4o-mini", "determination-v1")
ACR = ("acr-default", "2024")
REVIEWS = (
    Review("R1", (Code("72148", "lumbar", "deny", "deny", ("conservative_care",)),), *OFFLINE, *ACR, at(3)),
    Review(
        "R2",
        (Code("72148", "lumbar", "deny", "approve", ("conservative_care",)),),
        *OFFLINE,
        *ACR,
        at(4),
        "PT notes show 8 weeks",
    ),
    Review(
        "R3",
        (Code("72141", "cervical", "deny", "refer", ("conservative_care", "candidacy")),),
        *OPENAI,
        *ACR,
        at(5),
        "Needs peer-to-peer discussion",
    ),
    Review(
        "R4",
        (Code("72148", "lumbar", "approve", "approve"), Code("72141", "cervical", "deny", "approve", ("candidacy",))),
        *OPENAI,
        *ACR,
        at(10),
        "pt notes  show 8 weeks ",
    ),
    Review("R5", (Code("72146", "thoracic", "refer", "refer"),), *OFFLINE, "payer-model", "2026.2", at(11)),
    Review("R6", (Code("72148", "lumbar", "approve", "approve"),), *OFFLINE, *ACR, at(12)),
    Review("R7", (Code("72148", "lumbar", "deny", "deny", ("conservative_care",)),), *OFFLINE, *ACR, None),
    Review(
        "R8",
        (Code("72158", "lumbar", "deny", "deny", ("conservative_care",)),),
        "openai",
        "gpt-4o-mini",
        "determination-v2",
        *ACR,
        at(16),
    ),
)

# (dimension, key) -> codes, reviews, agreed, agreement, kappa, overturned, overturn rate, deny -> approve
TABLE: dict[tuple[str, str], tuple[int, int, int, float | None, float | None, int, float | None, int]] = {
    ("overall", "all"): (8, 7, 5, 0.625, 0.4545, 3, 0.375, 2),
    ("timeline", "2026-03-02"): (3, 3, 1, 0.3333, 0.0, 2, 0.6667, 1),
    ("timeline", "2026-03-09"): (4, 3, 3, 0.75, 0.5556, 1, 0.25, 1),
    ("timeline", "2026-03-16"): (1, 1, 1, 1.0, 1.0, 0, 0.0, 0),
    ("region", "lumbar"): (5, 5, 4, 0.8, 0.6154, 1, 0.2, 1),
    ("region", "cervical"): (2, 2, 0, 0.0, 0.0, 2, 1.0, 1),
    ("region", "thoracic"): (1, 1, 1, 1.0, 1.0, 0, 0.0, 0),
    ("code", "72148"): (4, 4, 3, 0.75, 0.5, 1, 0.25, 1),
    ("code", "72141"): (2, 2, 0, 0.0, 0.0, 2, 1.0, 1),
    ("code", "72146"): (1, 1, 1, 1.0, 1.0, 0, 0.0, 0),
    ("code", "72158"): (1, 1, 1, 1.0, 1.0, 0, 0.0, 0),
    ("backend", "offline"): (4, 4, 3, 0.75, 0.6364, 1, 0.25, 1),
    ("backend", "openai/gpt-4o-mini"): (4, 3, 2, 0.5, 0.2727, 2, 0.5, 1),
    ("prompt_version", "p1"): (4, 4, 3, 0.75, 0.6364, 1, 0.25, 1),
    ("prompt_version", "determination-v1"): (3, 2, 1, 0.3333, 0.1429, 2, 0.6667, 1),
    ("prompt_version", "determination-v2"): (1, 1, 1, 1.0, 1.0, 0, 0.0, 0),
    ("criteria_version", "acr-default 2024"): (7, 6, 4, 0.5714, 0.3226, 3, 0.4286, 2),
    ("criteria_version", "payer-model 2026.2"): (1, 1, 1, 1.0, 1.0, 0, 0.0, 0),
    ("criterion", "conservative_care"): (4, 4, 2, 0.5, 0.0, 2, 0.5, 1),
    ("criterion", "candidacy"): (2, 2, 0, 0.0, 0.0, 2, 1.0, 1),
    ("criterion", ALL_MET): (3, 3, 3, 1.0, 1.0, 0, 0.0, 0),
}
TIME_INDEPENDENT = {k: v for k, v in TABLE.items() if k[0] != "timeline"}


def findings(unmet: tuple[str, ...]) -> list[CriterionFinding]:
    """The unmet required criteria, plus a met one and an unmet supporting one (neither counts)."""
    rows = [CriterionFinding(criterion_id="red_flags", label="No red flag", status=CriterionStatus.met)]
    rows += [CriterionFinding(criterion_id=c, label=c, status=CriterionStatus.not_met) for c in unmet]
    rows.append(
        CriterionFinding(
            criterion_id="prior_imaging", label="Prior imaging", status=CriterionStatus.not_documented, role="supporting"
        )
    )
    return rows


def case_and_determination(review: Review) -> tuple[Case, Determination]:
    case = Case.model_validate(
        {
            "id": f"case-{review.id}",
            "request": {
                "patient": {"age": 50, "sex": "female"},
                "procedures": [{"code": c.code} for c in review.codes],
                "clinical_notes": "Back pain for 4 weeks. Sensitive note text.",
            },
        }
    )
    det = Determination(
        case_id=case.id,
        determinations=[
            CodeDetermination(code=c.code, region=c.region, decision=c.recommended, criteria=findings(c.unmet))
            for c in review.codes
        ],
        provenance=Provenance(
            backend=review.backend,
            backend_kind="rules" if review.backend == "offline" else "llm",
            model=review.model,
            prompt_version=review.prompt,
            engine_version="e1",
            criteria_set=review.criteria_set,
            criteria_version=review.criteria_version,
            kb_version="kb-1",
        ),
    )
    return case, det


def changes(review: Review) -> dict[str, dict[str, str]]:
    return {c.code: {"from": c.recommended, "to": c.final} for c in review.codes if c.recommended != c.final}


def record(review: Review) -> ReviewRecord:
    """A ReviewRecord as the store returns it, with the sign-off time chosen by the test."""
    case, det = case_and_determination(review)
    moved = changes(review)
    signoff = None
    if review.signed is not None:
        signoff = SignOff(
            reviewer="Dr. Ana Lee",
            credentials="MD",
            role="physician",
            decision="overturn" if moved else "uphold",
            reason=review.reason,
            at=review.signed,
            changes=moved,
        )
    status = ReviewStatus.recommendation if signoff is None else ReviewStatus.overturned if moved else ReviewStatus.final
    return ReviewRecord(
        id=review.id,
        case_id=case.id,
        case_json=case.model_dump_json(),
        determination_json=det.model_dump_json(),
        kb_version="kb-1",
        backend=review.backend,
        model=review.model,
        prompt_version=review.prompt,
        criteria_set=review.criteria_set,
        criteria_version=review.criteria_version,
        urgency="standard",
        received_at=at(1),
        due_at=at(8),
        created_at=at(1),
        reviewed_by="nurse.kim",
        status=status,
        signoff=signoff,
    )


def report_of(records: list[ReviewRecord], **kw: object) -> OversightReport:
    params: dict[str, object] = {"now": NOW, "threshold": 0.2, "window_days": 30, "min_codes": 1, **kw}
    return build_report(records, **params)  # type: ignore[arg-type]  # test helper: keyword bag


@pytest.fixture(scope="module")
def report() -> OversightReport:
    return report_of([record(r) for r in REVIEWS])


def row_of(report: OversightReport, dimension: str, key: str) -> tuple[object, ...]:
    if dimension == "overall":
        row = report.overall
    else:
        rows = report.timeline if dimension == "timeline" else report.breakdowns[dimension]
        row = next(r for r in rows if r.key == key)
    return (row.codes, row.reviews, row.agreed, row.agreement, row.kappa, row.overturned, row.overturn_rate, row.deny_to_approve)


@pytest.mark.parametrize(("dimension", "key"), list(TABLE), ids=[f"{d}={k}" for d, k in TABLE])
def test_figures_match_the_hand_computed_table(report: OversightReport, dimension: str, key: str) -> None:
    assert row_of(report, dimension, key) == TABLE[(dimension, key)]


def test_every_row_is_in_the_table(report: OversightReport) -> None:
    """No row the table does not list: the table is the whole report, not a sample."""
    listed = {(d, k) for d, k in TABLE}
    assert {("timeline", r.key) for r in report.timeline} | {
        (d, r.key) for d, rows in report.breakdowns.items() for r in rows
    } == listed - {("overall", "all")}


def test_counts_confusion_reasons_and_unsafe(report: OversightReport) -> None:
    assert (report.reviews_signed, report.reviews_overturned, report.reviews_pending) == (7, 3, 1)
    assert report.confusion.labels == ["approve", "deny", "refer"]
    assert report.confusion.matrix == [[2, 2, 0], [0, 2, 0], [0, 1, 1]]
    assert [(r.reason, r.codes, r.reviews, r.deny_to_approve) for r in report.reasons] == [
        ("PT notes show 8 weeks", 2, 2, 2),  # "pt notes  show 8 weeks " is the same reason
        ("Needs peer-to-peer discussion", 1, 1, 0),
    ]
    assert [(u.review_id, u.code) for u in report.unsafe] == [("R2", "72148"), ("R4", "72141")]
    assert [(o.review_id, o.code, o.unsafe) for o in report.overturns] == [
        ("R2", "72148", True),
        ("R4", "72141", True),
        ("R3", "72141", False),
    ]
    worst = report.breakdowns["region"][0]
    assert worst.key == "cervical"  # highest overturn rate first


def test_since_leaves_earlier_sign_offs_out() -> None:
    since = report_of([record(r) for r in REVIEWS], since=date(2026, 3, 9))
    o = since.overall
    assert (o.codes, o.reviews, o.agreed, o.overturned, o.overturn_rate, o.deny_to_approve) == (5, 4, 4, 1, 0.2, 1)
    assert [t.key for t in since.timeline] == ["2026-03-09", "2026-03-16"]


def test_buckets() -> None:
    records = [record(r) for r in REVIEWS]
    by_month = report_of(records, bucket="month")
    assert [(t.key, t.codes, t.kappa) for t in by_month.timeline] == [("2026-03-01", 8, 0.4545)]
    by_day = report_of(records, bucket="day")
    assert [t.key for t in by_day.timeline] == [f"2026-03-{d:02d}" for d in (3, 4, 5, 10, 11, 12, 16)]


# Alert over the window (now = 03-17 12:00): 7 days -> R5, R6, R8 (3 codes, 0 overturned);
# 10 days -> R4..R8 (5 codes, 1 overturned: 0.2); 30 days -> all (8 codes, 3 overturned: 0.375).
@pytest.mark.parametrize(
    ("window", "threshold", "min_codes", "codes", "overturned", "rate", "triggered"),
    [
        (7, 0.2, 1, 3, 0, 0.0, False),
        (10, 0.2, 1, 5, 1, 0.2, True),  # at the threshold: fires
        (10, 0.25, 1, 5, 1, 0.2, False),
        (30, 0.3, 1, 8, 3, 0.375, True),
        (30, 0.3, 9, 8, 3, 0.375, False),  # too few signed codes to judge
        (30, 0.0, 8, 8, 3, 0.375, True),
    ],
    ids=["7d-calm", "10d-at-threshold", "10d-below", "30d-above", "30d-too-few", "30d-zero-threshold"],
)
def test_alert(window: int, threshold: float, min_codes: int, codes: int, overturned: int, rate: float, triggered: bool) -> None:
    alert = report_of([record(r) for r in REVIEWS], window_days=window, threshold=threshold, min_codes=min_codes).alert
    assert (alert.codes, alert.overturned, alert.rate, alert.triggered) == (codes, overturned, rate, triggered)
    assert alert.message.startswith("ALERT" if triggered else "no alert")


def test_alert_ignores_since() -> None:
    """--since narrows the tables, never the alert: the window always looks back from now."""
    alert = report_of([record(r) for r in REVIEWS], since=date(2026, 3, 16), window_days=30).alert
    assert (alert.codes, alert.overturned) == (8, 3)


def test_empty_store_and_bad_parameters() -> None:
    empty = report_of([])
    assert empty.overall.codes == 0 and empty.overall.agreement is None and empty.overall.kappa is None
    assert not empty.alert.triggered and empty.timeline == []
    with pytest.raises(OversightError, match="between 0 and 1"):
        report_of([], threshold=1.5)
    with pytest.raises(OversightError, match="bucket"):
        report_of([], bucket="year")


def test_charts_are_inline_svg_without_style_or_network(report: OversightReport) -> None:
    svg = timeline_svg(report.timeline, threshold=0.2)
    bars = bars_svg(report.breakdowns["region"], title="Overturn rate by region")
    for chart in (svg, bars):
        assert chart.startswith("<svg") and chart.rstrip().endswith("</svg>")
        assert "style=" not in chart and "<script" not in chart
        assert "http" not in chart.replace("http://www.w3.org/2000/svg", "")
    assert svg.count('class="point-agreement"') == 3 and 'class="threshold"' in svg
    assert bars.count('class="unsafe"') == 2  # lumbar and cervical each hold one deny -> approve
    assert "<title>cervical: 2 of 2 overturned</title>" in bars
    hostile = bars_svg([report.overall.model_copy(update={"key": "<script>x</script>"})], title="t")
    assert "<script>" not in hostile and "&lt;script&gt;" in hostile
    assert "no signed reviews" in timeline_svg([])


# -- the same table from a real audit store ------------------------------------------------------------

_numbers = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    else:
        server: PgServer = request.getfixturevalue("pg_server")
        url = server.create_database(f"umreview_oversight_{next(_numbers)}")
    s = Store(url, settings=Settings(data_dir=tmp_path))
    yield s
    s.close()


def fill(store: Store) -> dict[str, str]:
    """Save and sign the data set through the store's own API (sign-off times are the real clock)."""
    ids = {}
    for review in REVIEWS:
        case, det = case_and_determination(review)
        rec = store.save_review(case, det, actor="nurse.kim")
        ids[review.id] = rec.id
        if review.signed is None:
            continue
        moved = changes(review)
        if not moved:
            store.sign(rec.id, reviewer="Dr. Ana Lee", credentials="MD", decision="uphold")
        for to in sorted({m["to"] for m in moved.values()}):
            codes = [c for c, m in moved.items() if m["to"] == to]
            store.sign(
                rec.id, reviewer="Dr. Ana Lee", credentials="MD", decision="overturn", reason=review.reason, codes=codes, to=to
            )
    return ids


def test_figures_from_the_audit_store(store: Store) -> None:
    fill(store)
    report = oversight_report(store, threshold=0.3, window_days=1, min_codes=8)
    for (dimension, key), expected in TIME_INDEPENDENT.items():
        assert row_of(report, dimension, key) == expected, (dimension, key)
    assert (report.reviews_signed, report.reviews_overturned, report.reviews_pending) == (7, 3, 1)
    assert len(report.timeline) == 1 and report.timeline[0].codes == 8  # all signed just now
    assert report.alert.triggered and (report.alert.codes, report.alert.overturned) == (8, 3)
    assert [r.reason for r in report.reasons] == ["PT notes show 8 weeks", "Needs peer-to-peer discussion"]


def test_oversight_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UMREVIEW_OVERSIGHT_OVERTURN_ALERT", "0.3")
    monkeypatch.setenv("UMREVIEW_OVERSIGHT_MIN_CODES", "5")
    store = Store()
    ids = fill(store)
    store.close()
    result = runner.invoke(app, ["oversight", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["format"] == "umreview-oversight/1"
    assert data["overall"]["codes"] == 8 and data["overall"]["kappa"] == 0.4545 and data["overall"]["overturn_rate"] == 0.375
    assert data["alert"]["triggered"] is True and data["alert"]["threshold"] == 0.3
    assert {o["review_id"] for o in data["overturns"] if o["unsafe"]} == {ids["R2"], ids["R4"]}
    assert "Sensitive note text" not in result.output

    text = runner.invoke(app, ["oversight"])
    assert text.exit_code == 0, text.output
    for words in (
        "agreement 62.5%",
        "kappa 0.455",
        "overturn rate 37.5%",
        "ALERT",
        "UNSAFE",
        "PT notes show 8 weeks",
        "cervical",
    ):
        assert words in text.stdout, words

    cron = runner.invoke(app, ["oversight", "--fail-on-alert"])
    assert cron.exit_code == 1 and "ALERT" in cron.stderr
    calm = runner.invoke(app, ["oversight", "--fail-on-alert", "--threshold", "0.5"])
    assert calm.exit_code == 0 and "no alert" in calm.stdout
    bad = runner.invoke(app, ["oversight", "--since", "last tuesday"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.stderr
