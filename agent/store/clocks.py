"""Decision clocks: when a determination is due, and whether it is overdue.

CMS-0057-F (MA, Medicaid, CHIP, from 2026): 72 hours for expedited requests, 7 calendar days for
standard ones, counted from receipt. Both are settings (``clock_expedited_hours``,
``clock_standard_days``) because ERISA plans and some states use other clocks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agent.cases.model import Urgency


def due_at(received_at: datetime, urgency: Urgency | str, *, expedited_hours: float = 72, standard_days: int = 7) -> datetime:
    """The time a decision is due for a request received at ``received_at``."""
    if Urgency(urgency) == Urgency.expedited:
        return received_at + timedelta(hours=expedited_hours)
    return received_at + timedelta(days=standard_days)


def is_overdue(due: datetime, *, decided: bool, now: datetime | None = None) -> bool:
    """Past due and not yet decided (signed by a physician reviewer)."""
    return not decided and (now or datetime.now(UTC)) > due
