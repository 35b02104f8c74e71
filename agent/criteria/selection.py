"""Which criteria set, and which version of it, judges a request.

The set: an explicit choice (``--policy``, the web form) wins; otherwise the request's ``plan``, then
its ``line_of_business``, routed by the plan map (``plans.yaml`` in a guideline directory; the user's
own directory overrides the built-in one route by route); otherwise the configured default
(``UMREVIEW_POLICY``). A plan the map does not know is an error, never the default: the member's
plan has a policy somebody has to name. The version: the one in force on the request's date
(``Request.decision_date``), or ``NoCriteriaInForce``.

Example ``plans.yaml``::

    routes:
      - {plan: summit-gold-ppo, policy: summit-spine}
      - {line_of_business: medicare-advantage, policy: acr-default}
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent.cases.model import Request
from agent.errors import CriteriaFileError, PlanNotMapped

PLAN_MAP_FILE = "plans.yaml"
_STRICT = ConfigDict(extra="forbid")


class PlanRoute(BaseModel):
    """One route: a plan (or a whole line of business) to a criteria set id."""

    model_config = _STRICT
    plan: str | None = None
    line_of_business: str | None = None
    policy: str

    @model_validator(mode="after")
    def _one_key(self) -> PlanRoute:
        if (self.plan is None) == (self.line_of_business is None):
            raise ValueError("a route names exactly one of plan or line_of_business")
        return self


class PlanMap(BaseModel):
    model_config = _STRICT
    routes: list[PlanRoute] = Field(default_factory=list)

    def plans(self) -> dict[str, str]:
        return {r.plan.casefold(): r.policy for r in self.routes if r.plan}

    def lines(self) -> dict[str, str]:
        return {r.line_of_business.casefold(): r.policy for r in self.routes if r.line_of_business}


class Selection(BaseModel):
    """The criteria set chosen for a request and why (shown in the determination)."""

    policy: str
    reason: str
    on: date
    date_source: str


def load_plan_map(directories: list[Path]) -> PlanMap:
    """The plan maps of the guideline directories, later directories overriding earlier ones by key."""
    routes: dict[tuple[str, str], PlanRoute] = {}
    for directory in directories:
        path = directory / PLAN_MAP_FILE
        if not path.is_file():
            continue
        try:
            parsed = PlanMap.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        except (ValidationError, yaml.YAMLError) as exc:
            problem = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else "invalid YAML"
            raise CriteriaFileError(path, "routes", problem) from None
        for r in parsed.routes:
            key = ("plan", r.plan.casefold()) if r.plan else ("line_of_business", (r.line_of_business or "").casefold())
            routes[key] = r
    return PlanMap(routes=list(routes.values()))


def select_policy(request: Request, plan_map: PlanMap, *, default: str, explicit: str | None = None) -> Selection:
    """The criteria set for ``request``: explicit, else by plan, else by line of business, else ``default``."""
    on, source = request.decision_date
    if explicit:
        return Selection(policy=explicit, reason="chosen for this review", on=on, date_source=source)
    if request.plan:
        policy = plan_map.plans().get(request.plan.casefold())
        if policy is None:
            known = ", ".join(sorted(r.plan for r in plan_map.routes if r.plan)) or "none"
            raise PlanNotMapped(
                f"plan {request.plan!r} is not in the plan map (plans.yaml; known plans: {known}); add a route for it "
                "or choose a criteria set with --policy"
            )
        return Selection(policy=policy, reason=f"plan {request.plan}", on=on, date_source=source)
    if request.line_of_business:
        policy = plan_map.lines().get(request.line_of_business.casefold())
        if policy is not None:
            return Selection(policy=policy, reason=f"line of business {request.line_of_business}", on=on, date_source=source)
    return Selection(policy=default, reason="the default criteria set (UMREVIEW_POLICY)", on=on, date_source=source)
