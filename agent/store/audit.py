"""The audit hash chain: canonical JSON, event and review hashes, and the checks behind ``audit verify``.

Pure functions over plain data, so the rules can be read (and tested) without a database:

* every event's hash is SHA-256 over the canonical JSON of its sequence number, review id, kind,
  actor, time, payload and the previous event's hash, so editing an event breaks its own hash and
  deleting one breaks the next event's ``prev_hash`` (and leaves a gap in the sequence);
* a chain head (last sequence number and hash) is updated with every append, so deleting events at
  the end of the log is caught too;
* each ``reviewed`` event carries the hash of its review row's immutable content, so an edited or
  deleted review row is caught; the row's mutable ``status`` must match what the events imply.

This is tamper *evidence* for a database whose writers are trusted to use the store: someone who can
rewrite every row and recompute every hash can forge a consistent log.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

GENESIS_HASH = "0" * 64


class ReviewStatus(StrEnum):
    recommendation = "recommendation"  # as drafted; a deny is not yet an adverse determination
    final = "final"  # a physician signed the recommendation as it stands
    overturned = "overturned"  # a physician changed at least one recommended decision


class EventKind(StrEnum):
    reviewed = "reviewed"
    asked = "asked"
    letter_drafted = "letter_drafted"
    signed = "signed"
    overridden = "overridden"
    token_created = "token_created"  # logged under the subject "token:<id>", not a review id
    token_revoked = "token_revoked"
    pas_submitted = "pas_submitted"  # what a PAS $submit kept so $inquire can find the review (identifiers, lines)


TOKEN_KINDS = frozenset({EventKind.token_created.value, EventKind.token_revoked.value})


SUBMISSION_PREFIX = "pas:"


def submission_subject(reference: str) -> str:
    """The ``review_id`` column of a ``pas_submitted`` event for a PAS request answered without a review."""
    return f"{SUBMISSION_PREFIX}{reference}"


def token_subject(token_id: str) -> str:
    """The ``review_id`` column of a token event: tokens share the one hash chain with reviews."""
    return f"token:{token_id}"


def json_loads(text: str) -> Any:
    return json.loads(text)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"audit payloads must be JSON data; got {type(value).__name__}")


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text: the same data always gives the same string.
    Datetimes become UTC ISO strings and pydantic models their JSON form."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_jsonable)


def iso(moment: datetime) -> str:
    """A timezone-aware instant as UTC ISO 8601 with microseconds (the form that is hashed)."""
    if moment.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def event_hash(
    *, seq: int, review_id: str, kind: str, actor: str, at: datetime, payload: Mapping[str, Any], prev_hash: str
) -> str:
    body = {
        "seq": seq,
        "review_id": review_id,
        "kind": kind,
        "actor": actor,
        "at": iso(at),
        "payload": payload,
        "prev_hash": prev_hash,
    }
    return sha256(canonical_json(body))


def review_hash(content: Mapping[str, Any]) -> str:
    """Hash of a review row's immutable columns (datetimes already as ``iso`` strings)."""
    return sha256(canonical_json(dict(content)))


class Problem(BaseModel):
    """One thing ``verify`` found wrong. ``kind`` is one of the ``PROBLEM_KINDS``."""

    kind: str
    message: str
    review_id: str | None = None
    seq: int | None = None

    def __str__(self) -> str:
        return self.message


PROBLEM_KINDS = (
    "event_edited",
    "event_deleted",
    "chain_broken",
    "chain_head",
    "review_edited",
    "review_deleted",
    "review_unlogged",
    "status_mismatch",
    "token_edited",
    "token_deleted",
    "token_unlogged",
)


@dataclass(frozen=True)
class ChainEvent:
    """An event as stored, for checking."""

    seq: int
    review_id: str
    kind: str
    actor: str
    at: datetime
    payload: dict[str, Any]
    prev_hash: str
    hash: str


def check_chain(events: Iterable[ChainEvent], *, head_seq: int, head_hash: str) -> list[Problem]:
    """Edited events, deleted events (gaps, or missing at the end) and broken links, in log order."""
    problems: list[Problem] = []
    prev_seq, prev_hash = 0, GENESIS_HASH
    for ev in events:
        computed = event_hash(
            seq=ev.seq, review_id=ev.review_id, kind=ev.kind, actor=ev.actor, at=ev.at, payload=ev.payload, prev_hash=ev.prev_hash
        )
        if computed != ev.hash:
            problems.append(
                Problem(
                    kind="event_edited",
                    review_id=ev.review_id,
                    seq=ev.seq,
                    message=f"event #{ev.seq} ({ev.kind}, review {ev.review_id}) was edited: content and hash differ",
                )
            )
        if ev.seq != prev_seq + 1:
            gap = f"#{prev_seq + 1}" if ev.seq == prev_seq + 2 else f"#{prev_seq + 1}-#{ev.seq - 1}"
            problems.append(
                Problem(kind="event_deleted", seq=prev_seq + 1, message=f"event(s) {gap} are missing from the log (deleted)")
            )
        elif ev.prev_hash != prev_hash:
            problems.append(
                Problem(
                    kind="chain_broken",
                    review_id=ev.review_id,
                    seq=ev.seq,
                    message=f"event #{ev.seq} does not link to event #{prev_seq}: the previous event was edited or replaced",
                )
            )
        prev_seq, prev_hash = ev.seq, ev.hash
    if head_seq > prev_seq:
        problems.append(
            Problem(
                kind="event_deleted",
                seq=prev_seq + 1,
                message=f"the log ends at event #{prev_seq} but {head_seq} were written: the last event(s) were deleted",
            )
        )
    elif (head_seq, head_hash) != (prev_seq, prev_hash):
        problems.append(
            Problem(
                kind="chain_head",
                message=f"chain head #{head_seq} differs from the last event #{prev_seq}: events added outside the store?",
            )
        )
    return problems


def expected_status(events: Iterable[ChainEvent]) -> str:
    """The review status the events imply: signed -> final, overridden -> overturned."""
    status = ReviewStatus.recommendation
    for ev in events:
        if ev.kind == EventKind.signed:
            status = ReviewStatus.final
        elif ev.kind == EventKind.overridden:
            status = ReviewStatus.overturned
    return status.value


def check_reviews(rows: Mapping[str, tuple[str, str]], events: Iterable[ChainEvent]) -> list[Problem]:
    """Compare review rows (id -> (content hash now, status)) with their ``reviewed`` events."""
    problems: list[Problem] = []
    by_review: dict[str, list[ChainEvent]] = {}
    for ev in events:
        if ev.kind not in TOKEN_KINDS:
            by_review.setdefault(ev.review_id, []).append(ev)
    for review_id, evs in by_review.items():
        reviewed = next((e for e in evs if e.kind == "reviewed"), None)
        if review_id not in rows:
            if reviewed is not None:
                problems.append(
                    Problem(
                        kind="review_deleted",
                        review_id=review_id,
                        seq=reviewed.seq,
                        message=f"review {review_id} was deleted (its 'reviewed' event #{reviewed.seq} remains)",
                    )
                )
            continue
        content_hash, status = rows[review_id]
        if reviewed is None:
            continue  # reported below as unlogged
        if reviewed.payload.get("review_hash") != content_hash:
            problems.append(
                Problem(
                    kind="review_edited",
                    review_id=review_id,
                    seq=reviewed.seq,
                    message=f"review {review_id} was edited: its row no longer matches the hash in event #{reviewed.seq}",
                )
            )
        want = expected_status(evs)
        if status != want:
            problems.append(
                Problem(
                    kind="status_mismatch",
                    review_id=review_id,
                    message=f"review {review_id} has status {status!r} but its events say {want!r}",
                )
            )
    for review_id in rows:
        if not any(e.kind == "reviewed" for e in by_review.get(review_id, [])):
            problems.append(
                Problem(
                    kind="review_unlogged",
                    review_id=review_id,
                    message=f"review {review_id} has no 'reviewed' event: inserted outside the store, or its event deleted",
                )
            )
    return problems


def check_tokens(rows: Mapping[str, Mapping[str, Any]], events: Iterable[ChainEvent]) -> list[Problem]:
    """Compare API-token rows (id -> ``TokenRow.audited()``) with their last logged state: a role, name
    or hash edited in the table, a revoked token un-revoked, a token inserted or deleted outside the store."""
    logged: dict[str, dict[str, Any]] = {}
    for ev in events:
        if ev.kind in TOKEN_KINDS:
            logged[str(ev.payload.get("token_id"))] = dict(ev.payload)
    problems: list[Problem] = []
    for token_id, row in rows.items():
        want = logged.get(token_id)
        if want is None:
            problems.append(
                Problem(
                    kind="token_unlogged",
                    message=f"API token {token_id} ({row.get('role')}) has no token_created event: inserted outside the "
                    "store, or created before tokens were logged; revoke it and issue a new one",
                )
            )
        elif dict(row) != want:
            fields = ", ".join(k for k in sorted(want) if row.get(k) != want.get(k))
            problems.append(
                Problem(
                    kind="token_edited",
                    message=f"API token {token_id} was edited ({fields}) since the audit log recorded it",
                )
            )
    for token_id in logged.keys() - rows.keys():
        problems.append(Problem(kind="token_deleted", message=f"API token {token_id} was deleted from the table"))
    return problems
