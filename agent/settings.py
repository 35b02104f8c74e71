"""One settings model, read from ``UMREVIEW_*`` environment variables and an optional config file.

Every field is documented in the README's configuration table (a test checks it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict, TomlConfigSettingsSource


def _config_file() -> Path:
    return Path(os.environ.get("UMREVIEW_CONFIG", Path(user_data_dir("umreview")) / "config.toml"))


class ModelPrice(BaseModel):
    """List price of a model in US dollars per million tokens."""

    model_config = ConfigDict(extra="forbid")
    input: float = Field(ge=0)
    output: float = Field(ge=0)


class ConfiguredToken(BaseModel):
    """An API token declared in configuration: only its SHA-256 is written down (``umreview token hash``)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    role: Literal["reviewer", "physician", "admin"]
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 of the token")


# List prices when this table was written; override with UMREVIEW_PRICES for your contract or model.
DEFAULT_PRICES = {
    "gpt-4o-mini": ModelPrice(input=0.15, output=0.60),
    "gpt-4o": ModelPrice(input=2.50, output=10.00),
    "gpt-4.1-mini": ModelPrice(input=0.40, output=1.60),
    "gpt-4.1": ModelPrice(input=2.00, output=8.00),
}


class Settings(BaseSettings):
    """umreview configuration. Environment variables win over the config file."""

    model_config = SettingsConfigDict(env_prefix="UMREVIEW_", extra="ignore")

    data_dir: Path = Field(
        default_factory=lambda: Path(user_data_dir("umreview")),
        description="Where the knowledge base, user guidelines and the audit database live",
    )
    policy: str = Field(default="acr-default", description="Criteria set used when a request names none")
    backend: str = Field(default="offline", description="Drafting backend: offline (rules engine) or openai")
    chroma_url: str | None = Field(
        default=None, description="Chroma server URL (http://host:port); unset = embedded Chroma in data_dir"
    )
    collection: str = Field(default="umreview-guidelines", description="Chroma collection name")
    embedder: str = Field(
        default="minilm",
        description="Packaged all-MiniLM-L6-v2 run in numpy (minilm, fast start) or sentence-transformers (minilm-torch)",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the audit store; unset = SQLite file in data_dir"
    )
    database_auto_upgrade: bool = Field(
        default=True,
        description="Upgrade the audit store's schema at start-up; false: refuse to run on an old schema (umreview db upgrade)",
    )
    retrieval_k: int = Field(default=8, ge=1, le=50, description="Guideline chunks retrieved per requested code")
    openai_base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint base URL")
    openai_api_key: SecretStr | None = Field(default=None, description="API key for the openai backend")
    openai_model: str = Field(default="gpt-4o-mini", description="Model name for the openai backend")
    openai_timeout: float = Field(default=60.0, gt=0, description="Per-request timeout in seconds")
    openai_max_retries: int = Field(default=2, ge=0, description="Client retries on 429/5xx")
    openai_temperature: float = Field(default=0.0, ge=0, le=2, description="Sampling temperature for the openai backend")
    openai_max_tokens: int | None = Field(
        default=None, ge=1, description="Reply token cap sent as max_tokens (llama.cpp's server needs it); unset = server default"
    )
    llm_cache: bool = Field(default=True, description="Cache LLM replies on disk under data_dir/llm-cache")
    concurrency: int = Field(default=4, ge=1, le=64, description="Cases reviewed at once in a batch")
    prices: dict[str, ModelPrice] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES), description="Model -> USD per million input/output tokens"
    )
    repair_rounds: int = Field(default=2, ge=0, le=5, description="Validator-guided repair rounds before fallback")
    clock_expedited_hours: float = Field(default=72, gt=0, description="Decision clock for expedited requests, in hours")
    api_tokens: list[ConfiguredToken] = Field(
        default_factory=list,
        description="API tokens from configuration (name, role, sha256), in addition to those in the database",
    )
    secure_cookies: bool = Field(
        default=False,
        description="Mark workbench cookies Secure (send them over HTTPS only); turn on behind TLS. Always on for https requests",
    )
    clock_standard_days: int = Field(default=7, ge=1, description="Decision clock for standard requests, in calendar days")
    ocr_max_pages: int = Field(default=50, ge=0, le=2000, description="Scanned pages OCR'd per document; more is refused")
    ocr_page_timeout: float = Field(default=60.0, gt=0, description="Seconds of OCR allowed per scanned page")
    max_body_bytes: int = Field(
        default=50_000_000,
        ge=1024,
        description="Largest body of the routes that carry documents (POST /v1/reviews, /new, /fhir/Claim/$submit and "
        "$inquire), streamed to a temporary file as it arrives; every other route keeps 2 MB",
    )
    max_note_chars: int = Field(
        default=100_000, ge=1000, description="Longest documentation (notes and attachment text) one web request may send"
    )
    max_codes: int = Field(default=10, ge=1, le=1000, description="Most procedure codes one web request may ask for")
    max_attachment_pages: int = Field(default=100, ge=1, description="Most attachment pages (all attachments) in one web request")
    oversight_overturn_alert: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="Oversight alert: overturn rate (fraction of signed codes) at or above which it fires",
    )
    oversight_window_days: int = Field(
        default=30, ge=1, description="Oversight alert: days of sign-offs the overturn rate covers"
    )
    oversight_min_codes: int = Field(
        default=10, ge=1, description="Oversight alert: fewest signed codes in the window before it can fire"
    )
    public_api_docs: bool = Field(
        default=False, description="Serve /docs, /redoc and /openapi.json without a token (they need one by default)"
    )

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):  # type: ignore[no-untyped-def,override]  # pydantic-settings hook signature
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=_config_file()))

    @property
    def guidelines_dir(self) -> Path:
        """User-added guideline documents (``umreview ingest`` copies them here)."""
        return self.data_dir / "guidelines"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def llm_cache_dir(self) -> Path:
        return self.data_dir / "llm-cache"

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'umreview.sqlite3'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def price_for(model: str | None, prices: Mapping[str, ModelPrice]) -> ModelPrice | None:
    """Exact match, else the longest table entry the model name starts with (dated snapshots)."""
    if model is None:
        return None
    if model in prices:
        return prices[model]
    keys = sorted((k for k in prices if model.startswith(k)), key=len, reverse=True)
    return prices[keys[0]] if keys else None
