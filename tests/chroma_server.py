"""A throwaway Chroma server for tests and benches: `chroma run` (from the chromadb package) on
127.0.0.1 with a temporary data directory, stopped after use."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class ChromaUnavailable(RuntimeError):
    pass


def chroma_cli() -> str | None:
    found = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    return found if Path(found).exists() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def chroma_server(data_dir: Path, *, timeout: float = 30) -> Iterator[str]:
    """Run a Chroma server storing under ``data_dir``; yields its URL."""
    chroma = chroma_cli()
    if chroma is None:
        raise ChromaUnavailable("the chroma CLI (from the chromadb package) is not installed")
    data_dir.mkdir(parents=True, exist_ok=True)
    port, log = free_port(), data_dir / "chroma-server.log"
    with log.open("w") as out:
        command = [chroma, "run", "--path", str(data_dir / "data"), "--host", "127.0.0.1", "--port", str(port)]
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None:
                raise ChromaUnavailable(f"chroma server exited early:\n{log.read_text()}")
            if time.monotonic() > deadline:
                raise ChromaUnavailable(f"chroma server did not start in {timeout:.0f} s:\n{log.read_text()}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
