"""Files holding protected health information or secrets are readable by their owner only.

The audit database (every note), the LLM reply cache, the first-start admin token and the
knowledge base live in the data directory: it is made 0700 and those files 0600, including files
that already existed with looser modes (an upgrade from a version that left them 0644).
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and make it 0700 when this user owns it."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    _chmod(path, DIR_MODE)
    return path


def private_file(path: Path, *, create: bool = False) -> Path:
    """Make ``path`` 0600 (creating it empty with that mode if ``create``); a missing file is left alone."""
    if create and not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    if path.exists():
        _chmod(path, FILE_MODE)
    return path


def _chmod(path: Path, mode: int) -> None:
    try:
        if path.stat().st_uid == os.getuid() and (path.stat().st_mode & 0o777) != mode:
            path.chmod(mode)
    except OSError:
        pass  # not ours to change (a shared mount); the operator is told in the README
