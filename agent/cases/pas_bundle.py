"""A FHIR Bundle as an index of its resources: each entry checked against its R4B model, references resolved.

Errors are ``CaseFileError`` whose field is a FHIR path (``Bundle.entry[3].resource.valueQuantity.value``),
so the caller can answer with an OperationOutcome naming it. Python class names never reach a message.
Resources are kept as plain JSON dicts (the checked model only gates them): reading extensions, ``value[x]``
and STU-specific elements is simpler on the JSON, and what comes back out is what came in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from agent.errors import CaseFileError

Resource = dict[str, Any]


def fhir_path(loc: tuple[Any, ...] | list[Any], prefix: str) -> str:
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _model_for(resource_type: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError):
        return None


# Resources umreview reads are checked in full against their R4 model; others (Coverage, Organization, ...)
# only need a known resourceType, so a payer-irrelevant gap in them does not refuse a request.
READ_TYPES = {
    "Bundle",
    "Claim",
    "Patient",
    "DocumentReference",
    "Observation",
    "QuestionnaireResponse",
    "Communication",
    "ServiceRequest",
    "DeviceRequest",
    "Condition",
    "Binary",
}
SHAPE_ERRORS = {"model_type", "list_type", "dict_type", "json_invalid", "extra_forbidden", "string_type", "model_attributes_type"}


def check_resource(resource: Any, path: str, source: str) -> Resource:
    """``resource`` as an R4/R4B resource of a known type, or ``CaseFileError`` naming ``path``."""
    if not isinstance(resource, dict):
        raise CaseFileError(source, path, "expected a FHIR resource (a JSON object with resourceType)")
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        raise CaseFileError(source, f"{path}.resourceType", "missing resourceType")
    model = _model_for(rtype)
    if model is None:
        raise CaseFileError(
            source, f"{path}.resourceType", f"unknown FHIR resourceType {rtype[:60]!r}; send FHIR R4 resources (Da Vinci PAS)"
        )
    if rtype not in READ_TYPES:
        return resource
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        # A required element that is absent (Claim.priority, Coverage.payor) does not stop a review: what
        # umreview needs is checked where it is read. A present element of the wrong shape does.
        errors = [e for e in exc.errors() if e["type"] != "missing"]
        if not errors:
            return resource
        err = errors[0]
        where = fhir_path([p for p in err["loc"] if p != "__root__"], path)
        hint = " (an STU3- or R5-shaped element? PAS uses FHIR R4)" if err["type"] in SHAPE_ERRORS else ""
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "json_invalid":
            msg = "wrong type of value for this element"
        raise CaseFileError(source, where, f"not valid FHIR R4: {msg}{hint}") from None
    except (KeyError, ValueError, TypeError) as exc:  # fhir.resources raises these for some shapes (e.g. unknown nested types)
        raise CaseFileError(source, path, f"not valid FHIR R4 {rtype}: {str(exc)[:120]}") from None
    return resource


class BundleIndex:
    """The resources of a Bundle by entry, type and every name a reference may use for them."""

    def __init__(self, bundle: Any, source: str) -> None:
        self.source = source
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            got = bundle.get("resourceType") if isinstance(bundle, dict) else type(bundle).__name__
            raise CaseFileError(
                source, "Bundle.resourceType", f"expected a FHIR Bundle (Da Vinci PAS request), got {str(got)[:60]!r}"
            )
        entries = bundle.get("entry") or []
        if not isinstance(entries, list):
            raise CaseFileError(source, "Bundle.entry", "expected a list of entries")
        shell = {k: v for k, v in bundle.items() if k != "entry"}
        check_resource(shell, "Bundle", source)
        self.bundle = bundle
        self.entries: list[tuple[str, Resource]] = []  # (path, resource)
        self._by_key: dict[str, Resource] = {}
        self.paths: dict[int, str] = {}
        for i, entry in enumerate(entries):
            path = f"Bundle.entry[{i}]"
            if not isinstance(entry, dict):
                raise CaseFileError(source, path, "expected an entry object with a resource")
            if "resource" not in entry:
                continue
            resource = check_resource(entry["resource"], f"{path}.resource", source)
            self.entries.append((f"{path}.resource", resource))
            self.paths[id(resource)] = f"{path}.resource"
            self._add_keys(resource, entry.get("fullUrl"))

    def _add_keys(self, resource: Resource, full_url: Any) -> None:
        rtype, rid = resource["resourceType"], resource.get("id")
        if isinstance(full_url, str) and full_url:
            self._by_key.setdefault(full_url, resource)
        if isinstance(rid, str) and rid:
            self._by_key.setdefault(f"{rtype}/{rid}", resource)

    def of_type(self, rtype: str) -> list[Resource]:
        return [r for _, r in self.entries if r["resourceType"] == rtype]

    def path_of(self, resource: Resource) -> str:
        return self.paths.get(id(resource)) or str(resource["resourceType"])

    def resolve(self, reference: Any, *, container: Resource | None = None) -> Resource | None:
        """The resource a Reference points at: ``#id`` in ``container``, a fullUrl, ``Type/id`` or a URL ending in it."""
        ref = reference.get("reference") if isinstance(reference, dict) else None
        if not isinstance(ref, str) or not ref:
            return None
        if ref.startswith("#"):
            for contained in (container or {}).get("contained") or []:
                if isinstance(contained, dict) and contained.get("id") == ref[1:]:
                    return contained
            return None
        if ref in self._by_key:
            return self._by_key[ref]
        parts = ref.rstrip("/").split("/")
        if len(parts) >= 2:
            tail = "/".join(parts[-2:])
            if "_history" in parts and len(parts) >= 4:
                tail = "/".join(parts[-4:-2])
            return self._by_key.get(tail)
        return None

    def require(self, reference: Any, path: str, *, container: Resource | None = None) -> Resource | None:
        """Resolve a literal reference; a reference to a resource missing from the Bundle is refused."""
        if not isinstance(reference, dict) or not reference.get("reference"):
            return None  # identifier- or display-only references point outside the Bundle by design
        found = self.resolve(reference, container=container)
        if found is None:
            raise CaseFileError(
                self.source,
                f"{path}.reference",
                f"refers to {str(reference['reference'])[:100]!r}, which is not in the Bundle; "
                "include that resource as an entry (or contained resource) or remove the reference",
            )
        return found


def references(value: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Reference (a dict with a ``reference`` string) inside ``value``, with its FHIR path."""
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            yield path, value
        for key, sub in value.items():
            if key in ("contained", "text"):
                continue
            yield from references(sub, f"{path}.{key}")
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from references(sub, f"{path}[{i}]")


def codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, dict):
        return []
    return [c for c in concept.get("coding") or [] if isinstance(c, dict) and c.get("code")]


def extensions(element: Any, suffix: str, *, key: str = "extension") -> list[dict[str, Any]]:
    """Extensions of ``element`` whose url ends with ``suffix`` (PAS canonicals differ by version and host)."""
    if not isinstance(element, dict):
        return []
    return [e for e in element.get(key) or [] if isinstance(e, dict) and str(e.get("url", "")).endswith(suffix)]
