"""Request bodies that carry documents, streamed to a temporary file instead of held in memory.

The routes that take documents (``UPLOAD_ROUTES`` in ``agent.web.app``: a case over the API, a packet
on the workbench, PAS Bundles with scanned records inline) may send up to ``UMREVIEW_MAX_BODY_BYTES``
(default 50 MB). ``spooled_body`` copies the body chunk by chunk, as the server receives it, into a
``SpooledTemporaryFile`` that keeps the first ``IN_MEMORY`` bytes in memory and then moves to an
unnamed file (``O_TMPFILE``) in ``<data dir>/uploads`` (owner-only, like every file holding notes).
Memory stays at about one chunk plus ``IN_MEMORY`` whatever the body's size. The file is closed, and
so deleted, when the block ends, on success and on every error; a body over the limit stops at the
limit (the ``RequestGuard`` counts the bytes as they arrive) and is answered 413.

Multipart uploads (the workbench's /new) are parsed by Starlette's streaming form parser, which spools
each file the same way; ``copy_upload`` reads such a file in chunks too.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO

from starlette.requests import Request

from agent.errors import RequestTooLarge
from agent.settings import Settings
from agent.store.files import private_dir

IN_MEMORY = 256 * 1024  # bytes of a body kept in memory before it moves to disk
CHUNK = 64 * 1024


def spool_dir(settings: Settings) -> Path:
    return private_dir(settings.data_dir / "uploads")


def new_spool(settings: Settings) -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(
        max_size=IN_MEMORY, mode="w+b", dir=str(spool_dir(settings))
    )  # closed by the caller's with


@asynccontextmanager
async def spooled_body(request: Request, settings: Settings) -> AsyncIterator[IO[bytes]]:
    """The request body in a temporary file, read position at the start; deleted when the block ends."""
    limit = settings.max_body_bytes
    with new_spool(settings) as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:  # the guard stops it first; this keeps the route safe without it
                raise RequestTooLarge(
                    f"the request body is over the limit of {limit:,} bytes (UMREVIEW_MAX_BODY_BYTES); "
                    "send fewer or smaller documents, or ask the operator to raise it"
                )
            spool.write(chunk)
        spool.seek(0)
        yield spool


def copy_upload(source: IO[bytes], target: IO[bytes]) -> int:
    """Copy an uploaded file in chunks; the number of bytes copied."""
    source.seek(0)
    shutil.copyfileobj(source, target, CHUNK)
    return target.tell()
