"""``umreview letter``: draft a denial letter for a case file (or, once the audit store resolves ids, a review)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console

from agent.errors import CaseFileError

if TYPE_CHECKING:
    from agent.cases import Case
    from agent.determination import Determination
    from agent.letters import Audience, Letter, LineOfBusiness, PlanInfo, Signature

out = Console()
err = Console(stderr=True)


class Format(StrEnum):
    md = "md"
    html = "html"
    pdf = "pdf"
    docx = "docx"


class AudienceChoice(StrEnum):
    member = "member"
    provider = "provider"


class LobChoice(StrEnum):
    commercial = "commercial"
    medicare_advantage = "medicare-advantage"
    medicaid = "medicaid"


@dataclass(frozen=True)
class ResolvedReview:
    """What a letter is drafted from: the case and its determination, with sign-off and clock when stored."""

    case: Case
    determination: Determination
    signature: Signature | None = None
    received_at: datetime | None = None
    due_at: datetime | None = None
    review_id: str | None = None  # set when drafted from the audit store


def resolve_review(review_id: str) -> ResolvedReview:
    """A stored review by id from the audit store: its case and determination, the physician's
    sign-off (a signed, upheld denial makes the letter final) and its received and due times."""
    from agent.letters import Signature
    from agent.store import Store

    record = Store().get_review(review_id)
    signature = Signature.model_validate(record.signoff.model_dump()) if record.signoff is not None else None
    return ResolvedReview(
        case=record.case,
        determination=record.determination,
        signature=signature,
        received_at=record.received_at,
        due_at=record.due_at,
        review_id=record.id,
    )


def _review_case_file(path: Path, policy: str | None) -> ResolvedReview:
    """Review a case file now with the offline rules backend (retrieval is not needed for a letter)."""
    from agent.cases import load_case
    from agent.knowledge import KnowledgeBase
    from agent.review import Reviewer

    case = load_case(path)
    reviewer = Reviewer(KnowledgeBase(), backend="offline", policy=policy, retrieve=False)
    return ResolvedReview(case=case, determination=reviewer.review(case))


def _plan(path: Path | None) -> PlanInfo:
    from agent.letters import PlanInfo

    if path is None:
        return PlanInfo()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return PlanInfo.model_validate(data)
    except OSError as exc:
        raise CaseFileError(path, "", f"cannot read plan file: {exc.__class__.__name__}") from None
    except yaml.YAMLError:
        raise CaseFileError(path, "", "invalid YAML") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CaseFileError(path, ".".join(str(p) for p in first["loc"]), first["msg"]) from None


def _write(drafted: Letter, fmt: Format, out_path: Path | None) -> Path | None:
    """Write the letter; md and html go to stdout when no path is given. The path written, if any."""
    if fmt in (Format.md, Format.html):
        text = drafted.to_markdown() if fmt == Format.md else drafted.to_html()
        if out_path is None:
            out.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            out_path.write_text(text, encoding="utf-8")
        return out_path
    target = out_path or Path(f"{drafted.case_id}-{drafted.audience}-{drafted.line_of_business}.{fmt.value}")
    return drafted.to_pdf(target) if fmt == Format.pdf else drafted.to_docx(target)


def register(app: typer.Typer) -> None:
    @app.command()
    def letter(
        target: Annotated[
            str, typer.Argument(help="A case file (reviewed now with the offline rules backend), or a stored review id")
        ],
        fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format")] = Format.md,
        audience: Annotated[
            AudienceChoice, typer.Option(help="member (plain language) or provider (with a clinical section)")
        ] = AudienceChoice.member,
        line_of_business: Annotated[
            LobChoice, typer.Option("--line-of-business", "-l", help="Sets the required elements and deadlines")
        ] = LobChoice.commercial,
        out_path: Annotated[
            Path | None, typer.Option("--out", "-o", help="Output file; md and html go to stdout without it")
        ] = None,
        plan_file: Annotated[
            Path | None, typer.Option("--plan", help="YAML with plan contact details (fields of PlanInfo)")
        ] = None,
        policy: Annotated[str | None, typer.Option("--policy", "-p", help="Criteria set id for a case file")] = None,
    ) -> None:
        """Draft the denial letter for the denied codes, then print the letter checker's report.

        The letter is a DRAFT until a physician reviewer signs it and upholds the denial. Approved or
        referred codes are never part of it; a case with no denied code is refused (exit 2).
        """
        from agent.cli_reviewer import user_errors
        from agent.letter_check import check_letter
        from agent.letters import draft_letter

        with user_errors():
            path = Path(target)
            resolved = _review_case_file(path, policy) if path.is_file() else resolve_review(target)
            drafted = draft_letter(
                resolved.case,
                resolved.determination,
                audience=cast("Audience", audience.value),
                line_of_business=cast("LineOfBusiness", line_of_business.value),
                signature=resolved.signature,
                received_at=resolved.received_at,
                due_at=resolved.due_at,
                plan=_plan(plan_file),
            )
            written = _write(drafted, fmt, out_path)
            if resolved.review_id is not None:
                from agent.cli_reviewer import cli_actor
                from agent.store import Store

                payload = {
                    "format": fmt.value,
                    "audience": audience.value,
                    "line_of_business": line_of_business.value,
                    "final": resolved.signature is not None,
                }
                Store().record_event(resolved.review_id, "letter_drafted", actor=cli_actor(), payload=payload)
            if written is not None:
                err.print(f"wrote {written} ({drafted.status.upper()})", highlight=False)
            for line in check_letter(drafted, resolved.determination).lines():
                err.print(line, markup=False, highlight=False)
