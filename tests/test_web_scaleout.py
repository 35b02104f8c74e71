"""The service as a team runs it: `umreview serve --workers 2` over PostgreSQL and a Chroma server.

Everything is real and on 127.0.0.1: a throwaway PostgreSQL server (Debian binaries), `chroma run`,
and the CLI's own `serve` in a subprocess with the packaged MiniLM embedder and the offline backend.
Concurrent submissions go to both workers; afterwards the audit hash chain (written by two processes
through one PostgreSQL database) must be intact and the Chroma collection must hold every chunk once.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from chroma_server import ChromaUnavailable, chroma_cli, chroma_server, free_port
from needs import unavailable
from pg_server import PgServer
from web_support import EXAMPLE_CASE, RED_FLAG_CASE

from agent.knowledge.base import KnowledgeBase
from agent.settings import Settings
from agent.store.reviews import Store

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parent.parent
SUBMISSIONS = 24


def server_env(data_dir: Path, database_url: str, chroma_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UMREVIEW_", "OPENAI_"))}
    env.update(
        UMREVIEW_DATA_DIR=str(data_dir),
        UMREVIEW_CONFIG=str(data_dir / "absent-config.toml"),
        UMREVIEW_DATABASE_URL=database_url,
        UMREVIEW_CHROMA_URL=chroma_url,
        UMREVIEW_BACKEND="offline",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    return env


def cli(env: dict[str, str], *args: str) -> str:
    command = [sys.executable, "-m", "agent", *args]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def deployment(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if chroma_cli() is None:
        unavailable("the chroma CLI (from the chromadb package) is not installed")
    database_url = pg_server.create_database("umreview_scaleout")
    data_dir = tmp_path_factory.mktemp("scaleout")
    try:
        with chroma_server(tmp_path_factory.mktemp("scaleout-chroma")) as chroma_url:
            env = server_env(data_dir, database_url, chroma_url)
            port, log = free_port(), data_dir / "serve.log"
            command = [sys.executable, "-m", "agent", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
            with log.open("wb") as out:
                proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
            base = f"http://127.0.0.1:{port}"
            try:
                deadline = time.monotonic() + 120
                while log.read_text(errors="replace").count("Application startup complete") < 2:
                    assert proc.poll() is None, f"serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
                    assert time.monotonic() < deadline, f"two workers did not start:\n{log.read_text()[-3000:]}"
                    time.sleep(0.2)
                yield {"base": base, "env": env, "data_dir": data_dir, "log": log, "proc": proc, "chroma_url": chroma_url}
            finally:
                proc.terminate()
                proc.wait(timeout=60)
    except ChromaUnavailable as exc:
        unavailable(str(exc))


def test_two_workers_share_postgresql_and_a_chroma_server(deployment: dict[str, Any]) -> None:
    base, env, log = deployment["base"], deployment["env"], deployment["log"]
    admin = (deployment["data_dir"] / "admin-token").read_text().strip()
    reviewer = cli(env, "token", "create", "--name", "nurse.kim", "--role", "reviewer")
    physician = cli(env, "token", "create", "--name", "dr.lee", "--role", "physician")

    cases = [EXAMPLE_CASE if i % 2 else RED_FLAG_CASE for i in range(SUBMISSIONS)]

    def submit(case: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{base}/v1/reviews", json=case, headers={"authorization": f"Bearer {reviewer}"}, timeout=120)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(submit, cases))
    assert [r.status_code for r in responses] == [201] * SUBMISSIONS, [r.text for r in responses if r.status_code != 201]
    ids = [r.json()["review"]["id"] for r in responses]
    assert len(set(ids)) == SUBMISSIONS
    recs = [r.json()["review"]["recommendations"] for r in responses]
    assert recs[1] == {"72157": "deny", "72158": "deny"} and recs[0] == {"72148": "approve"}
    # Hybrid retrieval (vectors from the Chroma server) ran for every code.
    for r in responses:
        retrieved = r.json()["determination"]["retrieved"]
        assert retrieved and all(retrieved.values()), retrieved

    # A physician on one worker signs what the other worker stored; questions and the queue see everything.
    auth = {"authorization": f"Bearer {physician}"}
    denied = ids[1]
    signed = httpx.post(f"{base}/v1/reviews/{denied}/sign", json={"credentials": "MD", "decision": "uphold"}, headers=auth)
    assert signed.status_code == 200 and signed.json()["status"] == "final"
    asked = httpx.post(f"{base}/v1/reviews/{ids[3]}/questions", json={"question": "Why was 72158 denied?"}, headers=auth)
    assert asked.status_code == 200 and asked.json()["citations"]
    queue = httpx.get(f"{base}/v1/reviews", params={"limit": 1000}, headers={"authorization": f"Bearer {admin}"})
    assert {r["id"] for r in queue.json()} >= set(ids)

    # Both worker processes answered submissions (the access log names the process).
    text = log.read_text(errors="replace")
    workers = set(re.findall(r"\[(\d+)\] INFO umreview\.access: POST /v1/reviews 201", text))
    assert len(workers) == 2, text[-3000:]
    assert "Traceback" not in text and " ERROR " not in text, text[-3000:]

    # The hash chain written by two processes is intact, and so is `umreview audit verify`.
    store = Store(env["UMREVIEW_DATABASE_URL"], settings=Settings(data_dir=deployment["data_dir"]))
    try:
        assert store.verify() == []
        reviews, events = store.counts()
        assert reviews == SUBMISSIONS and events >= SUBMISSIONS + 2  # reviewed x N, signed, asked
    finally:
        store.close()
    assert "hash chain intact" in cli(env, "audit", "verify")

    # Each worker synced the shared collection; upserts left every chunk exactly once.
    import chromadb

    host, port = env["UMREVIEW_CHROMA_URL"].removeprefix("http://").split(":")
    client = chromadb.HttpClient(host=host, port=int(port))
    collection = client.get_collection(Settings().collection)
    expected = {c.id for c in KnowledgeBase(Settings(data_dir=deployment["data_dir"])).corpus.chunks}
    stored = collection.get(include=[])["ids"]
    assert len(stored) == len(set(stored)) and set(stored) == expected
