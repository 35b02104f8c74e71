"""Physician sign-off rules: who may make a recommendation final, and what an override must record.

* Only the ``physician`` role signs. A nurse or other reviewer gets ``PermissionDenied``: they review
  and recommend, a physician reviewer makes an adverse determination final.
* ``uphold`` signs the recommendation as it stands: recommended denials become final denials.
* ``overturn`` needs a reason and changes recommended denials (all of them, or the ``codes`` named) to
  ``approve`` or ``refer``. A sign-off never produces a denial, so an approved code can never be
  signed as a denial.
* A review is signed once; the reviewer's name, credentials and role are recorded in the event.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from agent.cases.model import Decision
from agent.errors import CaseFileError, PermissionDenied, SignOffError
from agent.store.audit import EventKind, ReviewStatus

SIGNING_ROLE = "physician"


class SignDecision(StrEnum):
    uphold = "uphold"
    overturn = "overturn"


@dataclass(frozen=True)
class SignOffPlan:
    """What the store writes: the event kind and payload and the review's new status."""

    kind: EventKind
    status: ReviewStatus
    payload: dict[str, Any]


_NOT_IN_A_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029<>]")


def check_signer(review_id: str, *, reviewer: str, credentials: str, role: str) -> None:
    """Raise unless a named physician with stated credentials is signing. Name and credentials are
    printed in the member letter, so each must be one line of plain text (no line breaks, control
    characters or ``<``/``>``): a forged heading or raw HTML cannot ride in on a signature."""
    for field, value in (("reviewer", reviewer), ("credentials", credentials)):
        if _NOT_IN_A_NAME.search(value):
            raise CaseFileError(
                f"sign-off of {review_id}",
                field,
                "must be one line of plain text without line breaks, control characters, '<' or '>' "
                '(e.g. "MD, board-certified radiology")',
            )
    if role.strip().lower() != SIGNING_ROLE:
        raise PermissionDenied(
            f"role {role!r} cannot sign review {review_id}: only a physician reviewer can make a determination final. "
            f"A physician signs with `umreview sign {review_id} --role physician --reviewer NAME --credentials ...`"
        )
    if not reviewer.strip():
        raise SignOffError(f"review {review_id}: the signing physician's name is required (--reviewer)")
    if not credentials.strip():
        raise SignOffError(
            f'review {review_id}: the signing physician\'s credentials are required (--credentials "MD, board-certified ...")'
        )


def plan_signoff(
    review_id: str,
    recommendations: Mapping[str, Decision],
    status: ReviewStatus | str,
    *,
    reviewer: str,
    credentials: str,
    decision: SignDecision | str,
    reason: str | None = None,
    role: str = SIGNING_ROLE,
    codes: Iterable[str] | None = None,
    to: Decision | str = Decision.approve,
) -> SignOffPlan:
    """Apply the rules above; raise ``PermissionDenied`` or ``SignOffError`` with how to fix it."""
    check_signer(review_id, reviewer=reviewer, credentials=credentials, role=role)
    try:
        choice = SignDecision(decision)
    except ValueError:
        raise SignOffError(f"review {review_id}: decision must be 'uphold' or 'overturn', got {decision!r}") from None
    if ReviewStatus(status) != ReviewStatus.recommendation:
        raise SignOffError(
            f"review {review_id} is already signed (status {ReviewStatus(status).value}); a signed review cannot be signed again"
        )
    payload: dict[str, Any] = {
        "reviewer": reviewer.strip(),
        "credentials": credentials.strip(),
        "role": SIGNING_ROLE,
        "decision": choice.value,
        "reason": (reason or "").strip() or None,
    }
    if choice == SignDecision.uphold:
        if codes:
            raise SignOffError(f"review {review_id}: --code applies to overturn only; uphold signs every code as recommended")
        payload["final_decisions"] = {c: d.value for c, d in recommendations.items()}
        return SignOffPlan(EventKind.signed, ReviewStatus.final, payload)
    return _overturn(review_id, recommendations, payload, codes, to)


def _overturn(
    review_id: str, recs: Mapping[str, Decision], payload: dict[str, Any], codes: Iterable[str] | None, to: Decision | str
) -> SignOffPlan:
    if not payload["reason"]:
        raise SignOffError(
            f"review {review_id}: overturning a recommendation needs a reason (--reason TEXT); it goes into the audit log"
        )
    new = Decision(to)
    if new == Decision.deny:
        raise SignOffError(f"review {review_id}: an overturn can change a code to approve or refer, never to deny")
    targets = list(dict.fromkeys(codes or [])) or [c for c, d in recs.items() if d == Decision.deny]
    if not targets:
        raise SignOffError(
            f"review {review_id} has no recommended denial to overturn; sign it as it stands with --decision uphold"
        )
    for code in targets:
        if code not in recs:
            raise SignOffError(f"review {review_id} has no code {code!r}; its codes are {', '.join(recs)}")
        if recs[code] == new:
            raise SignOffError(f"review {review_id}: code {code} is already recommended {new.value}; nothing to overturn")
    payload["changes"] = {code: {"from": recs[code].value, "to": new.value} for code in targets}
    payload["final_decisions"] = {c: (new.value if c in targets else d.value) for c, d in recs.items()}
    return SignOffPlan(EventKind.overridden, ReviewStatus.overturned, payload)
