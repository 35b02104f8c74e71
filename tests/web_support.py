"""Shared by the web tests: example requests as JSON, and an app over a fake-embedder knowledge base
with one token per role."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI
from test_retrieval import HashEmbedder

from agent.knowledge.base import KnowledgeBase
from agent.service import Service
from agent.settings import Settings
from agent.web.app import create_app
from agent.web.auth import Role

ROOT = Path(__file__).parent.parent
EXAMPLE_YAML = (ROOT / "examples" / "cervical-fusion-mid-low-back-burning.yaml").read_text()


def _as_json(path: Path) -> dict[str, Any]:
    return json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))  # dates -> ISO strings


EXAMPLE_CASE = _as_json(ROOT / "examples" / "cervical-fusion-mid-low-back-burning.yaml")  # 72157 + 72158: deny
RED_FLAG_CASE = _as_json(ROOT / "evals" / "cases" / "lbp-bilateral-sciatica-pvr-450.yaml")  # 72148: approve
BUNDLE = json.loads((ROOT / "examples" / "pas-bundle-cervical-fusion.json").read_text())
# Pieces of protected information that must never reach an error body or a log line.
PHI = [
    "burning in his mid and low back",
    "anterior cervical discectomy",
    "numbness in his toes",
    "PVR 450",
    next(e["resource"]["birthDate"] for e in BUNDLE["entry"] if e["resource"]["resourceType"] == "Patient"),
]


def fake_kb(data_dir: Path) -> KnowledgeBase:
    return KnowledgeBase(Settings(data_dir=data_dir), embedder=HashEmbedder())


@dataclass
class Site:
    """An app, its data directory and a token per role (admin from the first-start file)."""

    app: FastAPI
    data_dir: Path
    tokens: dict[str, str]

    def auth(self, role: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.tokens[role]}"}

    @property
    def service(self) -> Service:
        return self.app.state.service  # type: ignore[no-any-return]  # set by create_app


def make_site(kb: KnowledgeBase, data_dir: Path) -> Site:
    settings = Settings(data_dir=data_dir)
    app = create_app(settings, service=Service(settings, kb=kb))
    tokens = {
        "admin": (data_dir / "admin-token").read_text().strip(),
        "reviewer": app.state.tokens.create("nurse.kim", Role.reviewer),
        "physician": app.state.tokens.create("dr.lee", Role.physician),
    }
    return Site(app=app, data_dir=data_dir, tokens=tokens)
