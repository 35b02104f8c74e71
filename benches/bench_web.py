"""Loopback load test of review submissions: POST /v1/reviews against `umreview serve` (prints figures).

Starts the real server as operators run it (`python -m agent serve`, uvicorn, one worker, SQLite
audit store and embedded Chroma in a temporary data dir, the offline backend and the packaged
all-MiniLM-L6-v2 embedder), signs in with the first-start admin token, warms up with one review
(knowledge-base sync and model load), then sends N submissions of the example case at a fixed
concurrency. Loopback only; nothing outside the temporary directory is touched.

Run: python benches/bench_web.py [--requests 200] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "cervical-fusion-mid-low-back-burning.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UMREVIEW_", "OPENAI_"))}
    env.update(
        UMREVIEW_DATA_DIR=str(data_dir),
        UMREVIEW_CONFIG=str(data_dir / "absent-config.toml"),  # the user's own config must not leak in
        UMREVIEW_BACKEND="offline",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    command = [sys.executable, "-m", "agent", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    sys.exit(f"the server did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


async def load(base: str, token: str, case: dict[str, object], n: int, concurrency: int) -> tuple[float, list[float], list[int]]:
    latencies: list[float] = []
    statuses: list[int] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
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
    parser.add_argument("--requests", type=int, default=200, help="review submissions to send (after one warm-up)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight at once")
    args = parser.parse_args()
    case = json.loads(json.dumps(yaml.safe_load(EXAMPLE.read_text()), default=str))
    with tempfile.TemporaryDirectory(prefix="umreview-bench-") as tmp:
        data_dir, port = Path(tmp), free_port()
        base, log = f"http://127.0.0.1:{port}", Path(tmp) / "server.log"
        t0 = time.perf_counter()
        proc = start_server(data_dir, port, log)
        try:
            wait_ready(base, proc, log)
            token = (data_dir / "admin-token").read_text().strip()
            t1 = time.perf_counter()
            warm = httpx.post(f"{base}/v1/reviews", json=case, headers={"authorization": f"Bearer {token}"}, timeout=300)
            warm.raise_for_status()
            t2 = time.perf_counter()
            wall, latencies, statuses = asyncio.run(load(base, token, case, args.requests, args.concurrency))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    errors = sum(1 for s in statuses if s != 201)
    print("server: umreview serve, uvicorn 1 worker, SQLite + embedded Chroma, offline backend, MiniLM embedder")
    print(f"start-up to first answer: {t1 - t0:.1f} s; warm-up review (KB sync + model load): {t2 - t1:.1f} s")
    print(f"submissions: {len(statuses)} at concurrency {args.concurrency}, errors: {errors}")
    print(f"throughput: {len(statuses) / wall:.1f} requests/s ({wall:.1f} s wall)")
    print(
        f"latency: p50 {statistics.median(latencies):.0f} ms, p95 {percentile(latencies, 0.95):.0f} ms, "
        f"max {max(latencies):.0f} ms"
    )


if __name__ == "__main__":
    main()
