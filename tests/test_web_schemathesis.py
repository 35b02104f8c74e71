"""Schemathesis against the app's own OpenAPI schema, in-process (ASGI): no request may end in a 5xx.

Bounded for CI: 25 generated requests per operation, with a physician token (allowed everything
but token management) and a stored review id, so generated bodies reach the handlers and the
store instead of stopping at authentication or a 404.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from web_support import EXAMPLE_CASE, Site, fake_kb, make_site

from agent.cases.model import Case

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return make_site(fake_kb(tmp_path_factory.mktemp("st-kb")), tmp_path_factory.mktemp("st-data"))


@pytest.fixture(scope="module")
def api_schema(site: Site) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", site.app, headers=site.auth("reviewer"))  # the docs need a token


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(scope="module")
def review_id(site: Site) -> str:
    """A stored review, so that generated questions, letters and sign-offs reach a real record."""
    return site.service.submit(Case.model_validate(EXAMPLE_CASE), actor="schemathesis").id


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case, site: Site, review_id: str) -> None:
    if "review_id" in (case.path_parameters or {}):
        case.path_parameters["review_id"] = review_id
    case.call_and_validate(headers=site.auth("physician"), checks=[not_a_server_error])


def test_the_schema_lists_every_api_route(api_schema: schemathesis.BaseSchema) -> None:
    operations = {f"{op.method.upper()} {op.path}" for op in (r.ok() for r in api_schema.get_all_operations())}
    assert {"POST /v1/reviews", "GET /v1/reviews", "POST /v1/reviews/{review_id}/sign", "POST /fhir/Claim/$submit"} <= operations
