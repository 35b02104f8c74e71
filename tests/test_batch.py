"""Batches: bounded concurrency, results written as each case completes, resume after an interruption."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, Reply
from llm_drafts import refer_all
from typer.testing import CliRunner

from agent.backends.openai import OpenAIBackend
from agent.cases.determination import Determination
from agent.cases.model import Case
from agent.cli.main import app
from agent.knowledge.base import KnowledgeBase
from agent.review.batch import run_batch
from agent.review.reviewer import Reviewer
from agent.settings import ModelPrice, Settings, price_for

NOTE = "45 year old with low back pain for 3 weeks. Ibuprofen for 2 weeks without relief."


def make_cases(n: int) -> list[Case]:
    request = {"patient": {"age": 45}, "procedures": [{"code": "72148"}], "clinical_notes": NOTE}
    return [Case.model_validate({"id": f"case-{i:02d}", "request": request}) for i in range(n)]


class Interrupting:
    """Wraps a review function; the ``stop_at``-th call raises KeyboardInterrupt (Ctrl-C in a worker)."""

    def __init__(self, reviewer: Reviewer, stop_at: int | None = None) -> None:
        self.reviewer, self.stop_at, self.calls = reviewer, stop_at, 0
        self._lock = threading.Lock()
        self.reviewed: list[str] = []

    def __call__(self, case: Case) -> Determination:
        with self._lock:
            self.calls += 1
            if self.calls == self.stop_at:
                raise KeyboardInterrupt
        det = self.reviewer.review(case)
        with self._lock:
            self.reviewed.append(case.id)
        return det


@pytest.fixture(scope="module")
def offline_reviewer(kb_offline: KnowledgeBase) -> Reviewer:
    return Reviewer(kb_offline, backend="offline", retrieve=False)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    server.responder = lambda body: Reply(arguments=refer_all(body))
    yield server
    server.stop()
    print("fake OpenAI server log:", *server.log, sep="\n  ")


def test_interrupted_batch_resumes_without_redoing_or_losing_cases(offline_reviewer: Reviewer, tmp_path: Path) -> None:
    cases = make_cases(8)
    first = Interrupting(offline_reviewer, stop_at=5)
    with pytest.raises(KeyboardInterrupt):
        run_batch(cases, first, out_dir=tmp_path, concurrency=2)
    written = {p.stem: p.stat().st_mtime_ns for p in tmp_path.glob("*.json")}
    assert set(written) == set(first.reviewed) and 0 < len(written) < 8
    second = Interrupting(offline_reviewer)
    result = run_batch(cases, second, out_dir=tmp_path, concurrency=2)
    assert sorted(second.reviewed) == sorted(set(c.id for c in cases) - set(written))
    assert [d.case_id for d in result.determinations] == [c.id for c in cases]
    assert {p.stem: p.stat().st_mtime_ns for p in tmp_path.glob("*.json") if p.stem in written} == written
    assert (result.summary.resumed, result.summary.reviewed) == (len(written), 8 - len(written))
    assert not list(tmp_path.glob(".*.tmp"))


def test_unreadable_result_is_reviewed_again(offline_reviewer: Reviewer, tmp_path: Path) -> None:
    (tmp_path / "case-00.json").write_text("{ half a fil")
    counting = Interrupting(offline_reviewer)
    run_batch(make_cases(1), counting, out_dir=tmp_path)
    assert counting.reviewed == ["case-00"]
    Determination.model_validate_json((tmp_path / "case-00.json").read_text())


def test_force_redoes_finished_cases(offline_reviewer: Reviewer, tmp_path: Path) -> None:
    run_batch(make_cases(2), offline_reviewer.review, out_dir=tmp_path)
    counting = Interrupting(offline_reviewer)
    run_batch(make_cases(2), counting, out_dir=tmp_path, force=True)
    assert sorted(counting.reviewed) == ["case-00", "case-01"]


def llm_reviewer(kb: KnowledgeBase, fake: FakeOpenAI, tmp_path: Path) -> Reviewer:
    settings = Settings(data_dir=tmp_path, openai_base_url=fake.url, openai_model="fake-model", openai_timeout=5, llm_cache=False)
    return Reviewer(kb, backend=OpenAIBackend(settings), retrieve=False)


def test_llm_batch_runs_concurrently_and_sums_tokens_and_cost(
    kb_offline: KnowledgeBase, fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.latency = 0.4
    reviewer = llm_reviewer(kb_offline, fake, tmp_path)
    prices = {"fake-model": ModelPrice(input=1.0, output=2.0)}
    result = run_batch(make_cases(8), reviewer.review, concurrency=8, prices=prices)
    s = result.summary
    assert fake.max_in_flight >= 2, "eight 0.4 s requests at concurrency 8 must overlap at the server"
    assert s.concurrency == 8
    assert (s.reviewed, s.accepted, s.requests, s.input_tokens, s.output_tokens) == (8, 8, 8, 8 * 1200, 8 * 300)
    assert s.cost_usd == pytest.approx(8 * (1200 * 1.0 + 300 * 2.0) / 1e6)


@pytest.mark.parametrize(
    ("model", "price"),
    [("gpt-4o-mini", 0.15), ("gpt-4o-mini-2024-07-18", 0.15), ("gpt-4o-2024-08-06", 2.5), ("llama-3.1-8b", None)],
    ids=["exact", "dated-snapshot", "longest-prefix", "unknown"],
)
def test_price_lookup(model: str, price: float | None) -> None:
    found = price_for(model, Settings().prices)
    assert (found.input if found else None) == price


def test_unpriced_model_is_named_in_the_summary(kb_offline: KnowledgeBase, fake: FakeOpenAI, tmp_path: Path) -> None:
    result = run_batch(make_cases(1), llm_reviewer(kb_offline, fake, tmp_path).review, prices={})
    assert result.summary.cost_usd is None and result.summary.unpriced_models == ["fake-model"]
    assert "no price for fake-model" in result.summary.line()


@pytest.fixture
def case_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "cases"
    folder.mkdir()
    for case in make_cases(6):
        (folder / f"{case.id}.json").write_text(case.model_dump_json())
    return folder


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI builds its own knowledge base: give it the hash embedder instead of MiniLM."""
    from test_retrieval import HashEmbedder

    from agent.knowledge import embeddings

    monkeypatch.setitem(embeddings._EMBEDDERS, "minilm", HashEmbedder())


@pytest.mark.usefixtures("no_model")
def test_cli_concurrency_prints_the_summary(
    case_dir: Path, fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UMREVIEW_OPENAI_BASE_URL", fake.url)
    monkeypatch.setenv("UMREVIEW_PRICES", json.dumps({"gpt-4o-mini": {"input": 1, "output": 1}}))
    out = tmp_path / "out"
    args = ["review", str(case_dir), "--backend", "openai", "--concurrency", "3", "--out", str(out), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 6 and len(list(out.glob("*.json"))) == 6
    assert "6 reviewed" in result.stderr and "6 accepted" in result.stderr and "at concurrency 3" in result.stderr
    assert "$0.0090" in result.stderr  # 6 x (1200 + 300) tokens at $1 per million


@pytest.mark.usefixtures("no_model")
def test_cli_interrupt_then_rerun_resumes(case_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    original = Reviewer.review
    calls = {"n": 0}

    def flaky(self: Reviewer, case: Case) -> Determination:
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return original(self, case)

    monkeypatch.setattr(Reviewer, "review", flaky)
    first = CliRunner().invoke(app, ["review", str(case_dir), "--out", str(out), "--concurrency", "1"])
    assert first.exit_code == 130 and "interrupted" in first.stderr
    done = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    assert 3 <= len(done) < 6  # the three before the interrupt, perhaps one the worker had already started
    second = CliRunner().invoke(app, ["review", str(case_dir), "--out", str(out), "--concurrency", "2"])
    assert second.exit_code == 0, second.output
    assert f"{len(done)} case(s) already reviewed" in second.stderr
    assert f"{6 - len(done)} reviewed, {len(done)} resumed" in second.stderr
    assert len(list(out.glob("*.json"))) == 6
    assert {n: t for n, t in ((p.name, p.stat().st_mtime_ns) for p in out.glob("*.json")) if n in done} == done


@pytest.mark.slow
def test_a_killed_batch_process_resumes_without_losing_or_redoing_cases(fake: FakeOpenAI, tmp_path: Path) -> None:
    """SIGKILL, not Ctrl-C: no handler runs. Every result on disk must still be whole (atomic
    writes), the audit log intact, and the rerun must review only the cases without a result."""
    import os
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "cases"
    folder.mkdir()
    for case in make_cases(10):
        (folder / f"{case.id}.json").write_text(case.model_dump_json())
    fake.latency = 0.5
    out, data = tmp_path / "out", tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UMREVIEW_", "OPENAI_"))}
    env.update(
        UMREVIEW_DATA_DIR=str(data),
        UMREVIEW_CONFIG=str(data / "absent.toml"),
        UMREVIEW_OPENAI_BASE_URL=fake.url,
        HF_HUB_OFFLINE="1",
    )
    command = [sys.executable, "-m", "agent", "review", str(folder), "--backend", "openai", "--out", str(out)]
    command += ["--concurrency", "1"]
    log = tmp_path / "first-run.log"
    with log.open("wb") as sink:  # a file, not a pipe nobody reads: a full pipe would stall the child
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=sink)
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.json"))) < 3:
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the batch wrote no results"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    done = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    assert 3 <= len(done) < 10
    for path in out.glob("*.json"):
        assert Determination.model_validate_json(path.read_text()).case_id  # whole, parseable results only
    requests_before = len(fake.log)

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(done)} case(s) already reviewed" in rerun.stderr
    assert len(list(out.glob("*.json"))) == 10
    assert {n: t for n, t in ((p.name, p.stat().st_mtime_ns) for p in out.glob("*.json")) if n in done} == done
    assert len(fake.log) - requests_before == 10 - len(done)  # the model was asked only about the rest
    verify = subprocess.run([sys.executable, "-m", "agent", "audit", "verify"], env=env, capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr
