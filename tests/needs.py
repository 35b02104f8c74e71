"""External programs the suite needs (PostgreSQL, Chroma, Chromium, poppler, ruff).

On a developer's machine a missing one skips its tests; under CI (``CI`` set, as ``.ci/run`` runs)
it fails them, because ``.ci/run`` installs every one and a skip would hide a missing install step.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required under CI: .ci/run installs it)")
    pytest.skip(reason)
