"""How much work one web request may ask for: documentation length, codes, attachment pages.

The rules reader takes about 50 microseconds per character of note on one core, so a 1 MB note would
hold a worker for about a minute; a request over a limit is refused before any review work starts.
``RequestTooLarge`` (HTTP 413) for too much text or too many pages, ``CaseFileError`` (HTTP 422) for
too many codes. Each message names the limit, the amount found and the setting that changes it.
"""

from __future__ import annotations

from agent.cases.model import Case
from agent.errors import CaseFileError, RequestTooLarge
from agent.settings import Settings


def check_limits(case: Case, settings: Settings, *, source: str = "request") -> None:
    """Raise if ``case`` exceeds ``settings``' per-request limits."""
    request = case.request
    chars = len(request.documentation)
    if chars > settings.max_note_chars:
        raise RequestTooLarge(
            f"{source}: the documentation (clinical notes and attachment text) has {chars:,} characters; "
            f"the limit is {settings.max_note_chars:,} (UMREVIEW_MAX_NOTE_CHARS). Send the notes that bear on this "
            "request, or split the packet"
        )
    pages = sum(a.pages or 0 for a in request.attachments)
    if pages > settings.max_attachment_pages:
        raise RequestTooLarge(
            f"{source}: the attachments have {pages} pages; the limit is {settings.max_attachment_pages} "
            "(UMREVIEW_MAX_ATTACHMENT_PAGES)"
        )
    codes = len(request.codes)
    if codes > settings.max_codes:
        raise CaseFileError(
            source,
            "request.procedures",
            f"{codes} procedure codes requested; the limit is {settings.max_codes} per request (UMREVIEW_MAX_CODES): "
            "split the request",
        )
