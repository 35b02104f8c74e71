"""The lint gate: ruff over the package and tests, mypy over the package."""

from __future__ import annotations

import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest
from needs import unavailable

ROOT = Path(__file__).parent.parent


def test_ruff_is_clean() -> None:
    if find_spec("ruff") is None:
        unavailable("ruff is not installed (it is in the dev extra)")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "agent", "tests", "benches"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_is_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy", "agent"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
