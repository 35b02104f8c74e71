"""The audit store: every review with its provenance, and an append-only, hash-chained event log.

    store = Store()                                   # Settings().sqlalchemy_url: SQLite in data_dir
    rec = store.save_review(case, det, actor="nurse.kim")            # -> ReviewRecord, id "R-..."
    store.record_event(rec.id, "asked", actor="nurse.kim", payload={"question": ..., "answer": ...})
    store.sign(rec.id, reviewer="Dr. Lee", credentials="MD, board-certified radiology", decision="uphold")
    store.verify()                                    # -> [] or a list of Problem

The schema is brought to the newest migration on first use (``agent.store.migrations``; the setting
``database_auto_upgrade`` off makes an old schema an error instead). Writes run in one transaction that first locks the chain head
(``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so several web workers can
append safely. Review rows never change except ``status``, which ``verify`` checks against the events.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import and_, func, not_, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, ProgrammingError, SQLAlchemyError
from sqlalchemy.orm import Session

from agent.cases.determination import Determination
from agent.cases.model import Case, Decision, Urgency
from agent.errors import NotFoundError, StoreError
from agent.settings import Settings, get_settings
from agent.store import audit, migrations
from agent.store.audit import EventKind, Problem, ReviewStatus
from agent.store.clocks import due_at, is_overdue
from agent.store.files import private_dir
from agent.store.signoff import SIGNING_ROLE, SignDecision, check_signer, plan_signoff
from agent.store.tables import ChainHead, EventRow, ReviewRow, TokenRow, make_engine, utc

__all__ = ["Event", "EventKind", "Problem", "ReviewRecord", "ReviewStatus", "SignDecision", "SignOff", "Store"]


# Kinds other modules may append with ``record_event``; the rest are written by the store itself.
OPEN_EVENT_KINDS = frozenset({EventKind.asked, EventKind.letter_drafted, EventKind.pas_submitted})
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_review_id() -> str:
    """``R-`` and 12 Crockford base32 characters (60 random bits): short enough to type."""
    n = secrets.randbits(60)
    return "R-" + "".join(_CROCKFORD[(n >> shift) & 31] for shift in range(55, -1, -5))


class Event(BaseModel):
    """One audit-log entry as returned by ``Store.events``."""

    seq: int
    review_id: str
    kind: EventKind
    actor: str
    at: datetime
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class SignOff(BaseModel):
    """Who signed a review, with what credentials, and what they decided."""

    reviewer: str
    credentials: str
    role: str
    decision: str  # uphold | overturn
    reason: str | None = None
    at: datetime
    changes: dict[str, dict[str, str]] = {}  # code -> {"from": ..., "to": ...} for an overturn


class ReviewRecord(BaseModel):
    """A stored review. ``case`` and ``determination`` are parsed on first access."""

    id: str
    case_id: str
    case_json: str
    determination_json: str
    kb_version: str
    backend: str
    model: str | None
    prompt_version: str | None
    criteria_set: str
    criteria_version: str
    urgency: Urgency
    received_at: datetime
    due_at: datetime
    created_at: datetime
    reviewed_by: str
    status: ReviewStatus
    signoff: SignOff | None = None

    @cached_property
    def case(self) -> Case:
        return Case.model_validate_json(self.case_json)

    @cached_property
    def determination(self) -> Determination:
        return Determination.model_validate_json(self.determination_json)

    @property
    def recommendations(self) -> dict[str, Decision]:
        """The recommended decision per code, as drafted."""
        return self.determination.decisions

    @property
    def final_decisions(self) -> dict[str, Decision]:
        """Per code: the recommendation, with a physician's overturns applied."""
        changed = {code: Decision(c["to"]) for code, c in (self.signoff.changes if self.signoff else {}).items()}
        return {**self.recommendations, **changed}

    @property
    def is_final(self) -> bool:
        """Signed by a physician (upheld or overturned): denials in ``final_decisions`` are adverse determinations."""
        return self.status != ReviewStatus.recommendation

    def overdue(self, now: datetime | None = None) -> bool:
        """Past its due time and not yet signed."""
        return is_overdue(self.due_at, decided=self.is_final, now=now)

    def summary(self, now: datetime | None = None) -> dict[str, Any]:
        """JSON-ready listing without the case (no note text): what ``history --json`` prints."""
        data = self.model_dump(mode="json", exclude={"case_json", "determination_json"})
        data["overdue"] = self.overdue(now)
        data["recommendations"] = {k: v.value for k, v in self.recommendations.items()}
        data["final_decisions"] = {k: v.value for k, v in self.final_decisions.items()}
        return data


class Store:
    """The audit store at ``url`` (default: ``Settings().sqlalchemy_url``)."""

    def __init__(self, url: str | None = None, *, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.url = url or self.settings.sqlalchemy_url
        self.safe_url = make_url(self.url).render_as_string(hide_password=True)
        if url is None and self.settings.database_url is None:
            private_dir(self.settings.data_dir)  # the default SQLite file holds every note: 0700 directory
        self.engine = make_engine(self.url)
        self._writer = self.engine.execution_options(umreview_write=True)
        try:
            self._prepare()
        except BaseException:
            self.engine.dispose()  # a refused or unreachable store leaves no open connection behind
            raise

    def _prepare(self) -> None:
        """Bring the schema to the newest migration (or refuse, by setting) and seed the chain head."""
        with self._errors("bring the audit store's schema up to date"):
            for attempt in range(3):  # web workers starting together may race to seed the chain head
                try:
                    migrations.ensure(self._writer, auto_upgrade=self.settings.database_auto_upgrade)
                    with Session(self._writer) as s, s.begin():
                        if s.get(ChainHead, 1) is None:
                            s.add(ChainHead(id=1, seq=0, hash=audit.GENESIS_HASH))
                    break
                except (IntegrityError, ProgrammingError):
                    if attempt == 2:
                        raise
                    time.sleep(0.2)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
            raise StoreError(
                f"cannot {doing} in the audit store {self.safe_url}: {exc.__class__.__name__}: {detail}"
                " (check UMREVIEW_DATABASE_URL, or run `umreview review --no-store`)"
            ) from exc

    @contextmanager
    def _write(self, doing: str) -> Iterator[tuple[Session, ChainHead]]:
        """One transaction holding the chain-head lock."""
        with self._errors(doing), Session(self._writer, expire_on_commit=False) as s, s.begin():
            head = s.execute(select(ChainHead).where(ChainHead.id == 1).with_for_update()).scalar_one()
            yield s, head

    @staticmethod
    def _append(s: Session, head: ChainHead, review_id: str, kind: EventKind, actor: str, payload: dict[str, Any]) -> EventRow:
        at, seq = datetime.now(UTC), head.seq + 1
        payload = audit.json_loads(audit.canonical_json(payload))  # exactly what will be read back
        digest = audit.event_hash(
            seq=seq, review_id=review_id, kind=kind.value, actor=actor, at=at, payload=payload, prev_hash=head.hash
        )
        row = EventRow(
            seq=seq,
            review_id=review_id,
            kind=kind.value,
            actor=actor,
            at=at,
            payload_json=audit.canonical_json(payload),
            prev_hash=head.hash,
            hash=digest,
        )
        s.add(row)
        head.seq, head.hash = seq, digest
        return row

    # -- reviews -------------------------------------------------------------------------------

    def save_review(
        self, case: Case, determination: Determination, *, actor: str, received_at: datetime | None = None
    ) -> ReviewRecord:
        """Persist a determination as a new review (status ``recommendation``) and log a ``reviewed`` event."""
        if determination.case_id != case.id:
            raise ValueError(f"determination is for case {determination.case_id!r}, not {case.id!r}")
        now = datetime.now(UTC)
        received = utc(received_at) if received_at else now
        prov = determination.provenance
        row = ReviewRow(
            id=new_review_id(),
            case_id=case.id,
            case_json=case.model_dump_json(),
            determination_json=determination.model_dump_json(),
            kb_version=prov.kb_version,
            backend=prov.backend,
            model=prov.model,
            prompt_version=prov.prompt_version,
            criteria_set=prov.criteria_set,
            criteria_version=prov.criteria_version,
            urgency=case.request.urgency.value,
            received_at=received,
            created_at=now,
            reviewed_by=actor,
            status=ReviewStatus.recommendation.value,
            due_at=due_at(
                received,
                case.request.urgency,
                expedited_hours=self.settings.clock_expedited_hours,
                standard_days=self.settings.clock_standard_days,
            ),
        )
        payload = {
            "review_hash": row.content_hash(),
            "case_id": case.id,
            "decisions": {k: v.value for k, v in determination.decisions.items()},
        }
        with self._write("save a review") as (s, head):
            s.add(row)
            self._append(s, head, row.id, EventKind.reviewed, actor, payload)
        return self._record(row, None)

    def get_review(self, review_id: str) -> ReviewRecord:
        """The review with this id; ``NotFoundError`` names the store and how to list ids."""
        with self._errors("read a review"), Session(self.engine) as s:
            row = s.get(ReviewRow, review_id)
            if row is None:
                raise NotFoundError(
                    f"no review {review_id!r} in the audit store {self.safe_url}; list review ids with `umreview history`"
                )
            sign = s.scalars(
                select(EventRow).where(EventRow.review_id == review_id, EventRow.kind.in_(_SIGN_KINDS)).order_by(EventRow.seq)
            ).all()
            return self._record(row, sign[-1] if sign else None)

    def list_reviews(
        self,
        *,
        status: ReviewStatus | str | None = None,
        decision: Decision | str | None = None,
        overdue: bool | None = None,
        now: datetime | None = None,
        due_before: datetime | None = None,
        order: Literal["newest", "due"] = "newest",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[ReviewRecord]:
        """Newest first (or soonest due first). ``decision``: any code whose current (final, else
        recommended) decision is this. Status, due and overdue filters and paging run in the
        database; only the decision filter reads each determination."""
        if order == "due":
            query = select(ReviewRow).order_by(ReviewRow.due_at, ReviewRow.id)
        else:
            query = select(ReviewRow).order_by(ReviewRow.created_at.desc(), ReviewRow.id)
        if status is not None:
            query = query.where(ReviewRow.status == ReviewStatus(status).value)
        if due_before is not None:
            query = query.where(ReviewRow.due_at <= due_before)
        if overdue is not None:
            late = and_(ReviewRow.status == ReviewStatus.recommendation.value, ReviewRow.due_at < (now or datetime.now(UTC)))
            query = query.where(late if overdue else not_(late))
        if decision is None and limit is not None:
            query = query.offset(offset).limit(limit)
        with self._errors("list reviews"), Session(self.engine) as s:
            rows = s.scalars(query).all()
            ids = [r.id for r in rows]
            signs: dict[str, EventRow] = {}
            for start in range(0, len(ids), 500):  # bounded IN lists
                chosen = select(EventRow).where(EventRow.kind.in_(_SIGN_KINDS), EventRow.review_id.in_(ids[start : start + 500]))
                signs.update({e.review_id: e for e in s.scalars(chosen.order_by(EventRow.seq))})
        records = [self._record(r, signs.get(r.id)) for r in rows]
        if decision is not None:
            records = [r for r in records if Decision(decision) in r.final_decisions.values()]
            records = records[offset : None if limit is None else offset + limit]
        return records

    @staticmethod
    def _record(row: ReviewRow, sign: EventRow | None) -> ReviewRecord:
        data = {name: getattr(row, name) for name in ReviewRow.IMMUTABLE}
        signoff = None
        if sign is not None:
            p = audit.json_loads(sign.payload_json)
            signoff = SignOff(
                reviewer=p["reviewer"],
                credentials=p["credentials"],
                role=p["role"],
                decision=p["decision"],
                reason=p.get("reason"),
                at=sign.at,
                changes=p.get("changes", {}),
            )
        return ReviewRecord(**data, status=ReviewStatus(row.status), signoff=signoff)

    # -- events --------------------------------------------------------------------------------

    def record_event(self, review_id: str, kind: EventKind | str, *, actor: str, payload: dict[str, Any] | None = None) -> Event:
        """Append an ``asked``, ``letter_drafted`` or ``pas_submitted`` event (JSON-serialisable payload) for a stored review."""
        kind = EventKind(kind)
        if kind not in OPEN_EVENT_KINDS:
            raise ValueError(
                f"{kind.value!r} events are written by save_review()/sign(); "
                "record_event takes asked, letter_drafted or pas_submitted"
            )
        with self._write("record an event") as (s, head):
            if s.get(ReviewRow, review_id) is None:
                raise NotFoundError(
                    f"no review {review_id!r} in the audit store {self.safe_url}; list review ids with `umreview history`"
                )
            row = self._append(s, head, review_id, kind, actor, payload or {})
        return _event(row)

    def record_submission(self, payload: dict[str, Any], *, actor: str) -> str:
        """Log a PAS request answered without a review (pended for documentation, no reviewable line) as a
        ``pas_submitted`` event under ``pas:P-...``; returns its reference ``P-...`` (quoted by ``$inquire``)."""
        reference = "P-" + new_review_id()[2:]
        with self._write("record a PAS submission") as (s, head):
            self._append(s, head, audit.submission_subject(reference), EventKind.pas_submitted, actor, payload)
        return reference

    def events(self, review_id: str | None = None, *, kind: EventKind | None = None) -> list[Event]:
        """Events of one review (or of all reviews), oldest first; only those of ``kind`` if given."""
        with self._errors("read events"), Session(self.engine) as s:
            query = select(EventRow).order_by(EventRow.seq)
            if review_id is not None:
                query = query.where(EventRow.review_id == review_id)
            if kind is not None:
                query = query.where(EventRow.kind == kind.value)
            return [_event(r) for r in s.scalars(query)]

    def verify(self) -> list[Problem]:
        """Check the whole log and every review row; an empty list means nothing was edited or deleted."""
        snapshot = (
            self.engine
            if self.engine.dialect.name == "sqlite"
            else self.engine.execution_options(isolation_level="REPEATABLE READ")
        )
        with self._errors("verify the audit log"), Session(snapshot) as s, s.begin():
            head = s.get(ChainHead, 1)
            head_seq, head_hash = (head.seq, head.hash) if head else (0, audit.GENESIS_HASH)
            chain = [r.chain_event() for r in s.scalars(select(EventRow).order_by(EventRow.seq))]
            rows = {r.id: (r.content_hash(), r.status) for r in s.scalars(select(ReviewRow))}
            tokens = {t.id: t.audited() for t in s.scalars(select(TokenRow))}
        return (
            audit.check_chain(chain, head_seq=head_seq, head_hash=head_hash)
            + audit.check_reviews(rows, chain)
            + audit.check_tokens(tokens, chain)
        )

    # -- API tokens (rows and their events; agent.web.auth.TokenStore is the front) ---------------

    def add_token(self, row: TokenRow, *, actor: str) -> None:
        """Store a new token row and log a ``token_created`` event in the same transaction."""
        with self._write("create an API token") as (s, head):
            s.add(row)
            self._append(s, head, audit.token_subject(row.id), EventKind.token_created, actor, row.audited())

    def revoke_token(self, token_id: str, *, actor: str) -> None:
        """Mark a token revoked and log a ``token_revoked`` event."""
        with self._write("revoke an API token") as (s, head):
            row = s.get(TokenRow, token_id)
            if row is None:
                raise NotFoundError(f"no token with id {token_id!r}; list them with `umreview token list`")
            row.revoked = True
            self._append(s, head, audit.token_subject(row.id), EventKind.token_revoked, actor, row.audited())

    def tokens(self, *, token_hash: str | None = None) -> list[TokenRow]:
        """Every token row, oldest first (or the one with ``token_hash``)."""
        query = select(TokenRow).order_by(TokenRow.created_at)
        if token_hash is not None:
            query = query.where(TokenRow.token_hash == token_hash)
        with self._errors("read API tokens"), Session(self.engine, expire_on_commit=False) as s:
            return list(s.scalars(query))

    def counts(self) -> tuple[int, int]:
        """(reviews, events)."""
        with self._errors("count reviews"), Session(self.engine) as s:
            return s.scalar(select(func.count()).select_from(ReviewRow)) or 0, s.scalar(
                select(func.count()).select_from(EventRow)
            ) or 0

    def sign(
        self,
        review_id: str,
        *,
        reviewer: str,
        credentials: str,
        decision: SignDecision | str,
        reason: str | None = None,
        role: str = SIGNING_ROLE,
        codes: list[str] | None = None,
        to: Decision | str = Decision.approve,
    ) -> ReviewRecord:
        """Physician sign-off (rules in ``agent.store.signoff``): ``uphold`` makes the recommendation final;
        ``overturn`` (reason required) changes recommended denials, or ``codes``, to ``to`` (approve or refer)."""
        check_signer(review_id, reviewer=reviewer, credentials=credentials, role=role)
        with self._write("sign a review") as (s, head):
            row = s.get(ReviewRow, review_id)
            if row is None:
                raise NotFoundError(
                    f"no review {review_id!r} in the audit store {self.safe_url}; list review ids with `umreview history`"
                )
            recs = Determination.model_validate_json(row.determination_json).decisions
            plan = plan_signoff(
                review_id,
                recs,
                row.status,
                reviewer=reviewer,
                credentials=credentials,
                decision=decision,
                reason=reason,
                role=role,
                codes=codes,
                to=to,
            )
            row.status = plan.status.value
            event_row = self._append(s, head, review_id, plan.kind, reviewer.strip(), plan.payload)
        return self._record(row, event_row)


_SIGN_KINDS = (EventKind.signed.value, EventKind.overridden.value)


def _event(row: EventRow) -> Event:
    return Event(
        seq=row.seq,
        review_id=row.review_id,
        kind=EventKind(row.kind),
        actor=row.actor,
        at=row.at,
        payload=audit.json_loads(row.payload_json),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
