"""Exception types, grouped by who must act on them.

Messages name the file, field and value involved and how to fix it; they never include note text.
Validator findings are data (``agent.cases.determination.Violation``, found by ``agent.review.validator``), not exceptions.
"""

from __future__ import annotations

from pathlib import Path


class UmreviewError(Exception):
    """Base class of every error umreview raises on purpose."""

    exit_code = 1


class CaseFileError(UmreviewError):
    """A request or labeled-case file cannot be used as given (exit code 2)."""

    exit_code = 2

    def __init__(self, path: Path | str, field: str, problem: str) -> None:
        self.path = str(path)
        self.field = field
        self.problem = problem
        where = f"{self.path}: {field}" if field else self.path
        super().__init__(f"{where}: {problem}")


class CriteriaFileError(UmreviewError):
    """A guideline or criteria file in the knowledge base is malformed (exit code 2)."""

    exit_code = 2

    def __init__(self, path: Path | str, field: str, problem: str) -> None:
        self.path = str(path)
        self.field = field
        self.problem = problem
        super().__init__(f"{self.path}: {field}: {problem}" if field else f"{self.path}: {problem}")


class NoCriteriaInForce(UmreviewError):
    """No version of the chosen criteria set is in force on the request's date (exit code 2).

    Never answered with another version or another set: the message names the set, the date, the
    versions with their dates, and what to do (give the request date, choose a set, add a version)."""

    exit_code = 2

    def __init__(self, policy_id: str, on: str, versions: str) -> None:
        self.policy_id = policy_id
        self.on = on
        super().__init__(
            f"criteria set {policy_id!r} has no version in force on {on} (versions: {versions}); check the request's "
            "request_date / note_date, choose another set with --policy or the plan map, or add a version with these dates"
        )


class PlanNotMapped(UmreviewError):
    """A request names a plan that no plan map routes to a criteria set (exit code 2)."""

    exit_code = 2


class RequestTooLarge(UmreviewError):
    """A request asks for more work than the configured limits allow (HTTP 413, exit code 2).
    The message names the limit, the amount found and the setting that raises it."""

    exit_code = 2


class ConfigError(UmreviewError):
    """A setting is missing or invalid (exit code 2)."""

    exit_code = 2


class KnowledgeBaseError(UmreviewError):
    """The knowledge base cannot be built or reached."""


class BackendError(UmreviewError):
    """A drafting backend failed; the review loop falls back to the deterministic path."""


class NotFoundError(UmreviewError):
    """A review, chunk or other stored object does not exist (exit code 2)."""

    exit_code = 2


class PermissionDenied(UmreviewError):
    """The actor's role may not do this, e.g. a nurse reviewer signing a denial (exit code 2)."""

    exit_code = 2


class SignOffError(UmreviewError):
    """A sign-off cannot be recorded as asked: already signed, no reason for an override, ... (exit code 2)."""

    exit_code = 2


class StoreError(UmreviewError):
    """The audit database cannot be reached or used; the message names the URL without its password."""


class LetterError(UmreviewError):
    """A denial letter cannot be drafted as asked: no code is denied, the denial was overturned, or bad options (exit code 2)."""

    exit_code = 2


class ExportError(UmreviewError):
    """Signed decisions cannot be exported as labeled cases as asked (bad OUT directory, unwritable file; exit code 2)."""

    exit_code = 2


class OversightError(UmreviewError):
    """The oversight report cannot be computed as asked (a bad window, threshold or date; exit code 2)."""

    exit_code = 2
