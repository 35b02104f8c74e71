"""The documentation of a PAS request Bundle, as attachments the reader reads one by one.

Order: DocumentReferences (oldest first), then ``Claim.supportingInfo``, Communications,
QuestionnaireResponses (DTR), Observations, then ``note`` of the requested services. Each becomes its
own attachment with a title and its own date, so the reader sees where one document ends.

Status handling: ``entered-in-error`` (and cancelled/retracted) resources are never read; a
DocumentReference that another one ``replaces`` (``relatesTo``), or whose status is ``superseded``,
gives way to the current one; a resource about another patient than ``Claim.patient`` is not read.
Inline data and ``url`` references to a Binary in the Bundle go through the same readers as case-file
attachments (PDF text layer or OCR, HTML stripped); a document that cannot be read is listed in
``unreadable`` so the request is pended for documentation rather than decided on what is left.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from agent.cases.attachments import DocumentError, read_bytes
from agent.cases.pas_bundle import BundleIndex, Resource, codings

NOT_USED = {"entered-in-error", "cancelled", "retracted", "superseded", "not-done", "revoked"}


@dataclass
class Evidence:
    attachments: list[dict[str, Any]] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # "FHIR path: why" for each document that could not be read
    seen: set[int] = field(default_factory=set)

    def add(self, title: str, when: date | None, text: str, **extra: Any) -> None:
        if text.strip():
            self.attachments.append({"title": title[:200], "date": when, "text": text.strip(), **extra})


def parse_date(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date() if "T" in value else date.fromisoformat(value[:10])
    except ValueError:
        return None


def concept_text(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    if concept.get("text"):
        return str(concept["text"])
    shown = [str(c.get("display") or c.get("code")) for c in codings(concept)]
    return ", ".join(shown)


def _title(resource: Resource, fallback: str) -> str:
    for key in ("description", "title"):
        if isinstance(resource.get(key), str) and resource[key].strip():
            return str(resource[key]).strip()
    text = concept_text(resource.get("type")) or concept_text(resource.get("code"))
    return text or fallback


class EvidenceReader:
    def __init__(self, index: BundleIndex, patient: Resource | None) -> None:
        self.index = index
        self.patient = patient
        self.out = Evidence()

    # -- attachments -------------------------------------------------------------------------------

    def attachment_text(self, att: Any, path: str, container: Resource | None = None) -> tuple[str, dict[str, Any]] | None:
        """Text of a FHIR Attachment (inline ``data`` or ``url`` to a Binary in the Bundle), or None if unreadable."""
        if not isinstance(att, dict):
            return None
        media = str(att.get("contentType") or "text/plain")
        name = str(att.get("title") or path)
        raw: bytes | None = None
        if att.get("data"):
            raw = self._b64(att["data"], f"{path}.data")
        elif att.get("url"):
            binary = self.index.resolve({"reference": att["url"]}, container=container)
            if binary is None or binary.get("resourceType") != "Binary":
                self.out.unreadable.append(
                    f"{path}.url: {str(att['url'])[:80]!r} is not a Binary in the Bundle; send the document inline"
                )
                return None
            media = str(binary.get("contentType") or media)
            raw = self._b64(binary.get("data") or "", f"{self.index.path_of(binary)}.data")
        if raw is None:
            return None
        try:
            doc = read_bytes(raw, media, name=name)
        except DocumentError as exc:
            self.out.unreadable.append(f"{path}: {exc}")
            return None
        return doc.text, {"media_type": doc.media_type, "pages": doc.pages, "ocr_pages": doc.ocr_pages, "doc_date": doc.date}

    def _b64(self, data: Any, path: str) -> bytes | None:
        try:
            raw = base64.b64decode(str(data), validate=False)
        except (binascii.Error, ValueError):
            raw = b""
        if not raw.strip():
            self.out.unreadable.append(f"{path}: no data (not base64, or empty)")
            return None
        return raw

    # -- resources ---------------------------------------------------------------------------------

    def usable(self, resource: Resource) -> bool:
        if id(resource) in self.out.seen or str(resource.get("status", "")).lower() in NOT_USED:
            return False
        if str(resource.get("docStatus", "")).lower() == "entered-in-error":
            return False
        subject = resource.get("subject") or resource.get("patient")
        if self.patient is not None and isinstance(subject, dict) and subject.get("reference"):
            target = self.index.resolve(subject, container=resource)
            if target is not None and target is not self.patient and target.get("resourceType") == "Patient":
                return False  # about someone else
        return True

    def read(self, resource: Resource, path: str, *, title: str | None = None) -> None:
        if not self.usable(resource):
            return
        self.out.seen.add(id(resource))
        rtype = resource["resourceType"]
        reader = getattr(self, f"_read_{rtype}", None)
        if reader is not None:
            reader(resource, path, title)

    def _read_DocumentReference(self, doc: Resource, path: str, title: str | None) -> None:
        when = parse_date(doc.get("date")) or parse_date(((doc.get("context") or {}).get("period") or {}).get("start"))
        for i, content in enumerate(doc.get("content") or []):
            got = self.attachment_text((content or {}).get("attachment"), f"{path}.content[{i}].attachment", doc)
            if got:
                text, meta = got
                name = title or str(((content or {}).get("attachment") or {}).get("title") or _title(doc, "clinical document"))
                self.out.add(name, when or meta.pop("doc_date"), text, **{k: v for k, v in meta.items() if k != "doc_date"})

    def _read_Observation(self, obs: Resource, path: str, title: str | None) -> None:
        name = title or concept_text(obs.get("code")) or "Observation"
        lines = []
        value = observation_value(obs)
        if value:
            lines.append(f"{name}: {value}")
        for comp in obs.get("component") or []:
            cv = observation_value(comp)
            if cv:
                lines.append(f"{concept_text(comp.get('code')) or 'component'}: {cv}")
        interp = ", ".join(concept_text(c) for c in obs.get("interpretation") or [] if concept_text(c))
        if interp:
            lines.append(f"Interpretation: {interp}")
        lines += [str(n.get("text")) for n in obs.get("note") or [] if isinstance(n, dict) and n.get("text")]
        when = (
            parse_date(obs.get("effectiveDateTime"))
            or parse_date((obs.get("effectivePeriod") or {}).get("start"))
            or parse_date(obs.get("issued"))
        )
        self.out.add(f"Observation: {name}", when, "\n".join(lines))

    def _read_QuestionnaireResponse(self, qr: Resource, path: str, title: str | None) -> None:
        lines: list[str] = []
        _answers(qr.get("item") or [], lines)
        self.out.add(title or "Questionnaire responses (DTR)", parse_date(qr.get("authored")), "\n".join(lines))

    def _read_Communication(self, comm: Resource, path: str, title: str | None) -> None:
        when = parse_date(comm.get("sent")) or parse_date(comm.get("received"))
        parts = []
        for i, payload in enumerate(comm.get("payload") or []):
            payload = payload or {}
            if payload.get("contentString"):
                parts.append(str(payload["contentString"]))
            elif payload.get("contentAttachment"):
                got = self.attachment_text(payload["contentAttachment"], f"{path}.payload[{i}].contentAttachment", comm)
                if got:
                    parts.append(got[0])
            elif payload.get("contentReference"):
                target = self.index.resolve(payload["contentReference"], container=comm)
                if target is not None:
                    self.read(target, self.index.path_of(target))
        self.out.add(
            title or f"Communication: {concept_text((comm.get('category') or [{}])[0]) or 'message'}", when, "\n\n".join(parts)
        )

    def _read_ServiceRequest(self, sr: Resource, path: str, title: str | None) -> None:
        notes = [str(n.get("text")) for n in sr.get("note") or [] if isinstance(n, dict) and n.get("text")]
        reasons = [concept_text(c) for c in sr.get("reasonCode") or [] if concept_text(c)]
        text = "\n".join(notes + ([f"Reason for request: {'; '.join(reasons)}"] if reasons and notes else []))
        self.out.add(
            title or f"Order note: {concept_text(sr.get('code')) or 'requested service'}", parse_date(sr.get("authoredOn")), text
        )

    _read_DeviceRequest = _read_ServiceRequest


def _answers(items: list[Any], lines: list[str]) -> None:
    for item in items:
        if not isinstance(item, dict):
            continue
        question = str(item.get("text") or item.get("linkId") or "question")
        values = [v for v in (answer_value(a) for a in item.get("answer") or []) if v]
        if values:
            lines.append(f"{question}: {'; '.join(values)}")
        _answers(item.get("item") or [], lines)
        for a in item.get("answer") or []:
            _answers((a or {}).get("item") or [], lines)


def answer_value(answer: Any) -> str:
    return observation_value(answer)


def observation_value(element: Any) -> str:
    """The ``value[x]`` of an Observation, component or answer, as text."""
    if not isinstance(element, dict):
        return ""
    for key, value in element.items():
        if not key.startswith("value"):
            continue
        if key in ("valueString", "valueInteger", "valueDecimal", "valueDateTime", "valueDate", "valueTime", "valueUri"):
            return str(value)
        if key == "valueBoolean":
            return "yes" if value else "no"
        if key in ("valueCodeableConcept",):
            return concept_text(value)
        if key == "valueCoding":
            return str(value.get("display") or value.get("code") or "")
        if key == "valueQuantity":
            unit = value.get("unit") or value.get("code") or ""
            return f"{value.get('value', '')} {unit}".strip()
        if key == "valuePeriod":
            return f"{value.get('start', '?')} to {value.get('end', 'ongoing')}"
        if key == "valueRange":
            low, high = value.get("low") or {}, value.get("high") or {}
            return f"{low.get('value', '?')}-{high.get('value', '?')} {high.get('unit') or low.get('unit') or ''}".strip()
        if key == "valueRatio":
            return f"{(value.get('numerator') or {}).get('value', '?')}/{(value.get('denominator') or {}).get('value', '?')}"
        if key == "valueReference":
            return str(value.get("display") or value.get("reference") or "")
    return ""
