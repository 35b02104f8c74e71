"""``umreview letter``: draft a denial letter for a case file (or, once the audit store resolves ids, a review)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console

from agent.errors import CaseFileError

if TYPE_CHECKING:
    from agent.cases.determination import Determination
    from agent.cases.model import Case
    from agent.letters.model import Audience, Letter, LetterFormat, LineOfBusiness, PlanInfo

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


def _review_case_file(path: Path, policy: str | None) -> tuple[Case, Determination]:
    """Review a case file now with the offline rules backend (retrieval is not needed for a letter)."""
    from agent.cases.load import load_case
    from agent.knowledge.base import KnowledgeBase
    from agent.review.reviewer import Reviewer

    case = load_case(path)
    reviewer = Reviewer(KnowledgeBase(), backend="offline", policy=policy, retrieve=False)
    return case, reviewer.review(case)


def _plan(path: Path | None) -> PlanInfo:
    from agent.letters.model import PlanInfo

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
    from agent.letters.render import letter_html, letter_markdown, render_letter

    if out_path is None and fmt in (Format.md, Format.html):
        text = letter_markdown(drafted) if fmt == Format.md else letter_html(drafted)
        out.print(text, markup=False, highlight=False, soft_wrap=True)
        return None
    target = out_path or Path(f"{drafted.case_id}-{drafted.audience}-{drafted.line_of_business}.{fmt.value}")
    return render_letter(drafted, cast("LetterFormat", fmt.value), target)


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
        from agent.cli.reviewer import user_errors
        from agent.letters.check import check_letter
        from agent.letters.draft import draft_letter

        with user_errors():
            path = Path(target)
            aud = cast("Audience", audience.value)
            lob = cast("LineOfBusiness", line_of_business.value)
            if path.is_file():
                case, determination = _review_case_file(path, policy)
                drafted = draft_letter(case, determination, audience=aud, line_of_business=lob, plan=_plan(plan_file))
            else:
                from agent.cli.reviewer import cli_actor
                from agent.service import Service

                service = Service()
                drafted = service.draft_letter(
                    target,
                    audience=aud,
                    line_of_business=lob,
                    actor=cli_actor(),
                    fmt=cast("LetterFormat", fmt.value),
                    plan=_plan(plan_file),
                )
                determination = service.get(target).determination
            written = _write(drafted, fmt, out_path)
            if written is not None:
                err.print(f"wrote {written} ({drafted.status.upper()})", highlight=False)
            for line in check_letter(drafted, determination).lines():
                err.print(line, markup=False, highlight=False)
