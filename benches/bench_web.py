"""Loopback load test of review submissions: POST /v1/reviews against `umreview serve` (prints figures).

Starts the real server as operators run it (`python -m agent serve`, uvicorn, the offline backend
and the packaged all-MiniLM-L6-v2 embedder) either on the single-machine defaults (one worker,
SQLite audit store and embedded Chroma in a temporary data dir) or scaled out (`--workers N
--postgres --chroma-server`: a throwaway PostgreSQL server and `chroma run`, both on 127.0.0.1, as
in tests/test_web_scaleout.py). Signs in with the first-start admin token, warms up each worker
(knowledge-base sync and model load), then sends N submissions of the example case at a fixed
concurrency. Loopback only; nothing outside the temporary directories is touched.

Run: python benches/bench_web.py [--requests 200] [--concurrency 8] [--workers 2 --postgres --chroma-server]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the throwaway PostgreSQL and Chroma servers the tests use
from chroma_server import chroma_server  # noqa: E402
from pg_server import MISSING, find_bindir, postgres_server  # noqa: E402

SERVED = r"\[(\d+)\] INFO umreview\.access: POST /v1/reviews 201"  # access-log lines carry the worker pid
EXAMPLE = ROOT / "examples" / "cervical-fusion-mid-low-back-burning.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, port: int, log: Path, workers: int, extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UMREVIEW_", "OPENAI_"))}
    env.update(
        UMREVIEW_DATA_DIR=str(data_dir),
        UMREVIEW_CONFIG=str(data_dir / "absent-config.toml"),  # the user's own config must not leak in
        UMREVIEW_BACKEND="offline",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        **extra_env,
    )
    command = [sys.executable, "-m", "agent", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path, workers: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        if log.read_text(errors="replace").count("Application startup complete") >= workers:
            return
        time.sleep(0.2)
    sys.exit(f"the server did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


async def load(
    base: str, token: str, case: dict[str, object], n: int, concurrency: int, keepalive: bool = True
) -> tuple[float, list[float], list[int]]:
    latencies: list[float] = []
    statuses: list[int] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency if keepalive else 0)
    async with httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}, limits=limits, timeout=120) as c:

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                started = time.perf_counter()
                response = await c.post("/v1/reviews", json=case)
                latencies.append(1000 * (time.perf_counter() - started))
                statuses.append(response.status_code)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies, statuses


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="review submissions to send (after the warm-up)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight at once")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--postgres", action="store_true", help="audit store on a throwaway PostgreSQL server")
    parser.add_argument("--chroma-server", action="store_true", help="vectors on a throwaway `chroma run` server")
    parser.add_argument("--embedder", choices=["minilm", "minilm-torch"], help="UMREVIEW_EMBEDDER (default: serve's)")
    parser.add_argument(
        "--keepalive",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="reuse connections (default: yes for 1 worker; no for several, since a kept-alive connection stays on the "
        "worker that accepted it and 8 connections from one client would not spread like many clients do)",
    )
    args = parser.parse_args()
    keepalive = args.workers == 1 if args.keepalive is None else args.keepalive
    case = json.loads(json.dumps(yaml.safe_load(EXAMPLE.read_text()), default=str))
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="umreview-bench-")))
        extra: dict[str, str] = {"UMREVIEW_EMBEDDER": args.embedder} if args.embedder else {}
        if args.postgres:
            bindir = find_bindir()
            if bindir is None:
                sys.exit(MISSING)
            extra["UMREVIEW_DATABASE_URL"] = stack.enter_context(postgres_server(bindir)).create_database("umreview_bench")
        if args.chroma_server:
            extra["UMREVIEW_CHROMA_URL"] = stack.enter_context(chroma_server(tmp / "chroma"))
        data_dir, port = tmp / "data", free_port()
        data_dir.mkdir()
        base, log = f"http://127.0.0.1:{port}", tmp / "server.log"
        t0 = time.perf_counter()
        proc = start_server(data_dir, port, log, args.workers, extra)
        try:
            wait_ready(base, proc, log, args.workers)
            token = (data_dir / "admin-token").read_text().strip()
            t1 = time.perf_counter()
            # Warm every worker: concurrent first requests spread over the processes.
            warm = asyncio.run(load(base, token, case, 2 * args.workers, 2 * args.workers, keepalive=False))
            if any(s != 201 for s in warm[2]):
                sys.exit(f"warm-up failed: {warm[2]}\n{log.read_text()[-3000:]}")
            t2 = time.perf_counter()
            wall, latencies, statuses = asyncio.run(load(base, token, case, args.requests, args.concurrency, keepalive))
            served = Counter(re.findall(SERVED, log.read_text(errors="replace")))
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    errors = sum(1 for s in statuses if s != 201)
    store = "PostgreSQL" if args.postgres else "SQLite"
    vectors = "a Chroma server" if args.chroma_server else "embedded Chroma"
    embedder = args.embedder or "serve's default (minilm-torch)"
    print(f"server: umreview serve, uvicorn {args.workers} worker(s), {store} + {vectors}, offline backend, embedder {embedder}")
    print(f"start-up until every worker is ready (model loaded, KB synced): {t1 - t0:.1f} s; warm-up requests: {t2 - t1:.1f} s")
    reuse = "kept-alive connections" if keepalive else "a new connection per request"
    print(f"submissions: {len(statuses)} at concurrency {args.concurrency} ({reuse}), errors: {errors}")
    print(f"per worker (incl. warm-up): {', '.join(str(n) for n in sorted(served.values(), reverse=True))}")
    print(f"throughput: {len(statuses) / wall:.1f} requests/s ({wall:.1f} s wall)")
    print(
        f"latency: p50 {statistics.median(latencies):.0f} ms, p95 {percentile(latencies, 0.95):.0f} ms, "
        f"max {max(latencies):.0f} ms"
    )


if __name__ == "__main__":
    main()
