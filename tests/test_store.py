"""The audit store on SQLite and on a real PostgreSQL server: reviews, events, tamper detection, sign-off, clocks."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pg_server import PgServer
from sqlalchemy import create_engine, text

from agent.cases.determination import CodeDetermination, Determination, Provenance
from agent.cases.model import Case
from agent.errors import NotFoundError, PermissionDenied, SignOffError
from agent.settings import Settings
from agent.store.clocks import due_at, is_overdue
from agent.store.reviews import EventKind, ReviewStatus, Store

RECEIVED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def make_case(case_id: str = "case-1", codes: tuple[str, ...] = ("72148",), urgency: str = "standard") -> Case:
    return Case.model_validate(
        {
            "id": case_id,
            "request": {
                "patient": {"age": 52, "sex": "male"},
                "procedures": [{"code": c} for c in codes],
                "urgency": urgency,
                "clinical_notes": "Low back pain for 3 weeks, no radicular symptoms.",
            },
        }
    )


def make_det(case: Case, decisions: dict[str, str]) -> Determination:
    return Determination(
        case_id=case.id,
        determinations=[CodeDetermination(code=c, decision=d) for c, d in decisions.items()],
        provenance=Provenance(
            backend="offline",
            backend_kind="rules",
            model=None,
            prompt_version="p1",
            engine_version="e1",
            criteria_set="acr-default",
            criteria_version="2024",
            kb_version="kb-abc123",
        ),
    )


def saved(store: Store, decisions: dict[str, str], *, case_id: str = "case-1", urgency: str = "standard", **kw):
    case = make_case(case_id, tuple(decisions), urgency)
    return store.save_review(case, make_det(case, decisions), actor="nurse.kim", **kw)


# -- backends ------------------------------------------------------------------------------------


_db_numbers = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.create_database(f"umreview_test_{next(_db_numbers)}")


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[Store]:
    s = Store(db_url, settings=Settings(data_dir=tmp_path))
    yield s
    s.close()


def raw_sql(url: str, sql: str, **params: object) -> None:
    """Change the database behind the store's back, as someone with database access could."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(sql), params)
    engine.dispose()


# -- reviews and events --------------------------------------------------------------------------


def test_save_get_and_list(store: Store) -> None:
    first = saved(store, {"72148": "deny"}, received_at=RECEIVED)
    second = saved(store, {"72141": "approve", "72146": "refer"}, case_id="case-2")
    assert re.fullmatch(r"R-[0-9A-HJKMNP-TV-Z]{12}", first.id) and first.id != second.id

    got = store.get_review(first.id)
    assert got.case == make_case() and got.determination.decisions == {"72148": "deny"}
    assert (got.kb_version, got.backend, got.prompt_version, got.criteria_set) == ("kb-abc123", "offline", "p1", "acr-default")
    assert got.received_at == RECEIVED and got.status == ReviewStatus.recommendation and got.reviewed_by == "nurse.kim"

    assert [r.id for r in store.list_reviews()] == [second.id, first.id]
    assert [r.id for r in store.list_reviews(decision="deny")] == [first.id]
    assert [r.id for r in store.list_reviews(decision="refer")] == [second.id]
    assert store.list_reviews(status="final") == []
    with pytest.raises(NotFoundError, match="umreview history"):
        store.get_review("R-NOPE")


def test_events_form_a_chain(store: Store) -> None:
    rec = saved(store, {"72148": "deny"})
    store.record_event(rec.id, "asked", actor="nurse.kim", payload={"question": "What would make this approvable?"})
    store.record_event(rec.id, EventKind.letter_drafted, actor="nurse.kim", payload={"format": "md"})
    events = store.events(rec.id)
    assert [e.kind for e in events] == ["reviewed", "asked", "letter_drafted"]
    assert [e.seq for e in events] == [1, 2, 3]
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(events))
    assert events[0].payload["decisions"] == {"72148": "deny"} and events[1].actor == "nurse.kim"
    with pytest.raises(ValueError, match="sign"):
        store.record_event(rec.id, "signed", actor="someone", payload={})
    with pytest.raises(NotFoundError):
        store.record_event("R-MISSING", "asked", actor="x", payload={})
    assert store.verify() == []


# -- tamper detection ----------------------------------------------------------------------------

TAMPERING = {
    "edited review row": ("UPDATE reviews SET kb_version = 'kb-forged' WHERE id = :rid", {"review_edited"}),
    "edited determination": (
        "UPDATE reviews SET determination_json = REPLACE(determination_json, '\"deny\"', '\"approve\"') WHERE id = :rid",
        {"review_edited"},
    ),
    "edited status": ("UPDATE reviews SET status = 'final' WHERE id = :rid", {"status_mismatch"}),
    "deleted review row": ("DELETE FROM reviews WHERE id = :rid", {"review_deleted"}),
    "edited event": ('UPDATE review_events SET payload_json = \'{"question":"forged"}\' WHERE seq = 3', {"event_edited"}),
    "edited event actor": ("UPDATE review_events SET actor = 'dr.nobody' WHERE seq = 4", {"event_edited"}),
    "deleted event": ("DELETE FROM review_events WHERE seq = 3", {"event_deleted"}),
    "deleted last event": ("DELETE FROM review_events WHERE seq = 4", {"event_deleted"}),
    "deleted reviewed event": ("DELETE FROM review_events WHERE seq = 2", {"event_deleted", "review_unlogged"}),
    "rehashed event": ("UPDATE review_events SET hash = :fake WHERE seq = 3", {"event_edited", "chain_broken"}),
}


@pytest.mark.parametrize(("sql", "kinds"), TAMPERING.values(), ids=TAMPERING.keys())
def test_verify_catches_tampering(store: Store, db_url: str, sql: str, kinds: set[str]) -> None:
    other = saved(store, {"72141": "approve"}, case_id="case-2")  # event 1
    rec = saved(store, {"72148": "deny"})  # event 2
    store.record_event(rec.id, "asked", actor="nurse.kim", payload={"question": "why?"})  # event 3
    store.record_event(rec.id, "letter_drafted", actor="nurse.kim", payload={"format": "pdf"})  # event 4
    assert store.verify() == []
    raw_sql(db_url, sql, rid=rec.id, fake="f" * 64)
    problems = store.verify()
    assert {p.kind for p in problems} == kinds, [str(p) for p in problems]
    assert all(p.review_id in (rec.id, None) for p in problems) and other.id not in " ".join(map(str, problems))


def test_concurrent_writers_keep_one_chain(db_url: str, tmp_path: Path) -> None:
    first = Store(db_url, settings=Settings(data_dir=tmp_path))
    rec = saved(first, {"72148": "deny"})
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        own = Store(db_url, settings=Settings(data_dir=tmp_path))  # its own engine and connections, like a web worker
        try:
            for i in range(8):
                own.record_event(rec.id, "asked", actor=f"worker-{n}", payload={"i": i})
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [e.seq for e in first.events()] == list(range(1, 34))
    assert first.verify() == []
    first.close()


def test_workers_starting_together_create_the_tables_once(db_url: str, tmp_path: Path) -> None:
    stores: list[Store] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            stores.append(Store(db_url, settings=Settings(data_dir=tmp_path)))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(stores) == 4
    saved(stores[0], {"72148": "deny"})
    assert stores[3].verify() == [] and stores[3].counts() == (1, 1)
    for s in stores:
        s.close()


def test_payloads_are_json_data(store: Store) -> None:
    rec = saved(store, {"72148": "deny"})
    event = store.record_event(
        rec.id, "letter_drafted", actor="nurse.kim", payload={"at": RECEIVED, "status": ReviewStatus.final}
    )
    assert event.payload == {"at": "2026-03-02T09:30:00.000000+00:00", "status": "final"}
    with pytest.raises(TypeError, match="JSON data"):
        store.record_event(rec.id, "asked", actor="nurse.kim", payload={"blob": object()})
    assert store.verify() == []


# -- sign-off ------------------------------------------------------------------------------------

PHYSICIAN = {"reviewer": "Dr. Ana Lee", "credentials": "MD, board-certified diagnostic radiology"}


@pytest.mark.parametrize("role", ["nurse", "reviewer", "Nurse Reviewer"])
def test_only_a_physician_signs(store: Store, role: str) -> None:
    rec = saved(store, {"72148": "deny"})
    with pytest.raises(PermissionDenied, match="only a physician") as exc:
        store.sign(rec.id, **PHYSICIAN, decision="uphold", role=role)
    assert exc.value.exit_code == 2
    assert store.get_review(rec.id).status == "recommendation" and len(store.events(rec.id)) == 1


def test_uphold_makes_the_denial_final_and_records_credentials(store: Store) -> None:
    rec = saved(store, {"72148": "deny", "72141": "approve"})
    signed = store.sign(rec.id, **PHYSICIAN, decision="uphold")
    assert signed.status == ReviewStatus.final and signed.is_final
    assert signed.final_decisions == {"72148": "deny", "72141": "approve"}
    again = store.get_review(rec.id)
    assert again.signoff is not None and again.signoff.credentials == PHYSICIAN["credentials"]
    assert again.signoff.reviewer == "Dr. Ana Lee" and again.signoff.role == "physician"
    last = store.events(rec.id)[-1]
    assert last.kind == "signed" and last.actor == "Dr. Ana Lee" and last.payload["credentials"].startswith("MD")
    with pytest.raises(SignOffError, match="already signed"):
        store.sign(rec.id, **PHYSICIAN, decision="overturn", reason="second thoughts")
    assert store.verify() == []


def test_overturn_needs_a_reason_and_records_the_override(store: Store) -> None:
    rec = saved(store, {"72148": "deny", "72141": "deny"})
    with pytest.raises(SignOffError, match="reason"):
        store.sign(rec.id, **PHYSICIAN, decision="overturn")
    with pytest.raises(SignOffError, match="never to deny"):
        store.sign(rec.id, **PHYSICIAN, decision="overturn", reason="x", to="deny")
    done = store.sign(rec.id, **PHYSICIAN, decision="overturn", reason="PT notes document 8 weeks", codes=["72148"])
    assert done.status == ReviewStatus.overturned
    assert done.final_decisions == {"72148": "approve", "72141": "deny"}  # the other denial stands, now final
    event = store.events(rec.id)[-1]
    assert event.kind == "overridden" and event.payload["reason"] == "PT notes document 8 weeks"
    assert event.payload["changes"] == {"72148": {"from": "deny", "to": "approve"}}
    assert [r.id for r in store.list_reviews(status="overturned", decision="approve")] == [rec.id]
    assert store.verify() == []


def test_overturn_to_refer_and_approvals_are_never_signed_as_denials(store: Store) -> None:
    approved = saved(store, {"72148": "approve"})
    with pytest.raises(SignOffError, match="no recommended denial"):
        store.sign(approved.id, **PHYSICIAN, decision="overturn", reason="x")
    with pytest.raises(SignOffError, match="uphold signs every code"):
        store.sign(approved.id, **PHYSICIAN, decision="uphold", codes=["72148"])
    with pytest.raises(SignOffError, match="no code"):
        store.sign(approved.id, **PHYSICIAN, decision="overturn", reason="x", codes=["70551"])
    upheld = store.sign(approved.id, **PHYSICIAN, decision="uphold")
    assert upheld.final_decisions == {"72148": "approve"}
    denied = saved(store, {"72148": "deny"}, case_id="case-2")
    referred = store.sign(denied.id, **PHYSICIAN, decision="overturn", reason="needs spine surgeon input", to="refer")
    assert referred.final_decisions == {"72148": "refer"}


@pytest.mark.parametrize(("field", "value", "match"), [("reviewer", " ", "name"), ("credentials", "", "credentials")])
def test_sign_requires_name_and_credentials(store: Store, field: str, value: str, match: str) -> None:
    rec = saved(store, {"72148": "deny"})
    with pytest.raises(SignOffError, match=match):
        store.sign(rec.id, **{**PHYSICIAN, field: value}, decision="uphold")


# -- decision clocks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("urgency", "due"),
    [("expedited", RECEIVED + timedelta(hours=72)), ("standard", RECEIVED + timedelta(days=7))],
)
def test_due_times(store: Store, urgency: str, due: datetime) -> None:
    rec = saved(store, {"72148": "deny"}, urgency=urgency, received_at=RECEIVED)
    assert rec.urgency == urgency and store.get_review(rec.id).due_at == due


def test_clocks_are_settings(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url, settings=Settings(data_dir=tmp_path, clock_expedited_hours=24, clock_standard_days=15))
    assert saved(store, {"72148": "deny"}, urgency="expedited", received_at=RECEIVED).due_at == RECEIVED + timedelta(hours=24)
    assert saved(store, {"72148": "deny"}, received_at=RECEIVED).due_at == RECEIVED + timedelta(days=15)
    store.close()


def test_overdue_until_signed(store: Store) -> None:
    now = datetime.now(UTC)
    late = saved(store, {"72148": "deny"}, received_at=now - timedelta(days=8))
    fresh = saved(store, {"72148": "deny"}, case_id="case-2", received_at=now - timedelta(days=6))
    urgent = saved(store, {"72148": "deny"}, case_id="case-3", urgency="expedited", received_at=now - timedelta(hours=73))
    assert late.overdue() and urgent.overdue() and not fresh.overdue()
    assert {r.id for r in store.list_reviews(overdue=True)} == {late.id, urgent.id}
    assert [r.id for r in store.list_reviews(overdue=False)] == [fresh.id]
    assert fresh.overdue(now=now + timedelta(days=2))
    store.sign(late.id, **PHYSICIAN, decision="uphold")
    assert {r.id for r in store.list_reviews(overdue=True)} == {urgent.id}


def test_clock_functions() -> None:
    assert due_at(RECEIVED, "expedited") == RECEIVED + timedelta(hours=72)
    assert due_at(RECEIVED, "standard", standard_days=3) == RECEIVED + timedelta(days=3)
    assert is_overdue(RECEIVED, decided=False, now=RECEIVED + timedelta(seconds=1))
    assert not is_overdue(RECEIVED, decided=True, now=RECEIVED + timedelta(days=30))
    assert not is_overdue(RECEIVED, decided=False, now=RECEIVED)


def test_default_store_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    store = Store(settings=settings)
    assert store.url == f"sqlite:///{tmp_path / 'data' / 'umreview.sqlite3'}"
    saved(store, {"72148": "deny"})
    assert (tmp_path / "data" / "umreview.sqlite3").exists()
    store.close()
