"""App factory for uvicorn workers: ``uvicorn agent.web.factory:app --factory``."""

from fastapi import FastAPI

from agent.web.app import create_app


def app() -> FastAPI:
    return create_app()
