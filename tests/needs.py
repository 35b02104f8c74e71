"""External programs and packages the suite needs (PostgreSQL, Chroma, Chromium, poppler, ruff, playwright, psycopg).

On a developer's machine a missing one skips its tests; under CI (``CI`` set, as ``.ci/run`` runs)
it fails them, because ``.ci/run`` installs every one and a skip would hide a missing install step.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest


def unavailable(reason: str, *, module_level: bool = False) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required under CI: .ci/run installs it)", pytrace=False)
    pytest.skip(reason, allow_module_level=module_level)


def module(name: str, reason: str, *, module_level: bool = False) -> ModuleType:
    """``import name``, or skip (fail under CI) with ``reason``: pytest.importorskip that CI cannot pass silently."""
    try:
        return importlib.import_module(name)
    except ImportError:
        unavailable(f"{name}: {reason}", module_level=module_level)
