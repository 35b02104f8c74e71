"""Choosing a backend by name: the offline rules engine and the OpenAI-compatible client, through one door."""

from __future__ import annotations

from agent.backends.base import Backend
from agent.backends.offline import OfflineBackend
from agent.backends.openai import OpenAIBackend
from agent.errors import ConfigError
from agent.settings import Settings

BACKEND_NAMES = ("offline", "openai")


def get_backend(name: str, settings: Settings | None = None) -> Backend:
    """The backend called ``name`` (``offline`` or ``openai``), configured from ``settings``."""
    if name == "offline":
        return OfflineBackend()
    if name == "openai":
        return OpenAIBackend(settings)
    raise ConfigError(f"unknown backend {name!r}; choose offline or openai")
