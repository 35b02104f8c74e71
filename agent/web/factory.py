"""App factory for uvicorn workers: ``uvicorn agent.web.factory:app --factory``.

Each worker process logs umreview's own lines (access log: method, route template, status, time;
errors by type) to stderr with its process id, so an operator can tell workers apart.
"""

import logging
import time

from fastapi import FastAPI

from agent.web.app import create_app

log = logging.getLogger("umreview.web")
LOG_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    """umreview.* (web, access) and agent.* (review fallbacks, cache) to stderr; neither logs note text."""
    for name in ("umreview", "agent"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter(LOG_FORMAT))
            logger.addHandler(handler)
            logger.propagate = False
        logger.setLevel(level)


def app() -> FastAPI:
    """One worker's app, warmed before it accepts requests: the embedding model is loaded and the
    knowledge base synced to Chroma, so no reviewer's first request waits for them."""
    configure_logging()
    application = create_app()
    started = time.perf_counter()
    kb = application.state.service.kb
    chunks = len(kb.retriever.corpus.chunks)
    kb.embedder.embed(["warm-up"])  # load the model now (the sync may have needed none: vectors ship)
    log.info("knowledge base %s ready: %d chunks, warmed in %.1f s", kb.version, chunks, time.perf_counter() - started)
    return application
