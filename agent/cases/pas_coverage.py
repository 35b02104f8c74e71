"""The member's plan, from the Coverage of a PAS request Bundle, for the plan map (``guidelines/plans.yaml``).

Which Coverage: the Claim's ``insurance`` (the focal one first, then by ``sequence``), else the
``insurance`` of the Bundle's ServiceRequests (a Bundle without a Claim), else a Coverage in the Bundle
whose ``beneficiary`` is the patient (or names none). Cancelled and entered-in-error Coverages are
skipped.

Which name: the plan class (``Coverage.class`` whose ``type`` is coded or written "plan"; the PAS and
CARIN examples code it in ``http://terminology.hl7.org/CodeSystem/coverage-class``): its ``name``,
else its ``value``; else the first ``Coverage.payor`` with a ``display``. Example: a class
``{"type": {"coding": [{"code": "plan"}]}, "value": "SHP-GOLD-01", "name": "Summit Health Gold PPO"}``
gives "Summit Health Gold PPO"; a Coverage with only ``payor: [{"display": "Acme Health Plan"}]`` gives
"Acme Health Plan"; a payor given only by reference gives no plan (the request keeps none).
"""

from __future__ import annotations

from typing import Any

from agent.cases.pas_bundle import BundleIndex, Resource, codings

PLAN_CLASS = "plan"
_UNUSABLE = {"cancelled", "entered-in-error"}


def _is_plan(cls: Resource) -> bool:
    kind: Resource = cls["type"] if isinstance(cls.get("type"), dict) else {}
    if any(str(c.get("code", "")).lower() == PLAN_CLASS for c in codings(kind)):
        return True
    return str(kind.get("text") or "").strip().lower() == PLAN_CLASS


def coverage_plan(coverage: Resource) -> str | None:
    """The plan a Coverage names: the plan class's name or value, else a payor's display."""
    for cls in coverage.get("class") or []:
        if isinstance(cls, dict) and _is_plan(cls):
            for key in ("name", "value"):
                if isinstance(cls.get(key), str) and cls[key].strip():
                    return " ".join(cls[key].split())
    for payor in coverage.get("payor") or []:
        if isinstance(payor, dict) and isinstance(payor.get("display"), str) and payor["display"].strip():
            return " ".join(payor["display"].split())
    return None


def _insured_by(index: BundleIndex, holder: Resource | None, insurance: list[Any]) -> list[Resource]:
    found = []
    for ref in insurance:
        target = index.resolve(ref, container=holder)
        if target is not None and target.get("resourceType") == "Coverage":
            found.append(target)
    return found


def coverages(index: BundleIndex, claim: Resource | None, patient: Resource | None) -> list[Resource]:
    """The request's Coverages, the one to use first."""
    claim_insurance = [i for i in (claim or {}).get("insurance") or [] if isinstance(i, dict)]
    claim_insurance.sort(key=lambda i: (not i.get("focal"), i.get("sequence") if isinstance(i.get("sequence"), int) else 0))
    found = _insured_by(index, claim, [i.get("coverage") for i in claim_insurance])
    if not found:
        for service in index.of_type("ServiceRequest"):
            found += _insured_by(index, service, [r for r in service.get("insurance") or [] if isinstance(r, dict)])
    if not found:
        found = [
            c for c in index.of_type("Coverage") if not c.get("beneficiary") or index.resolve(c.get("beneficiary")) is patient
        ]
    return [c for c in found if c.get("status") not in _UNUSABLE]


def request_plan(index: BundleIndex, claim: Resource | None, patient: Resource | None) -> str | None:
    """The plan of the first of the request's Coverages that names one."""
    return next((plan for c in coverages(index, claim, patient) if (plan := coverage_plan(c))), None)
