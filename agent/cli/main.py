"""The ``umreview`` command line: thin commands over the library.

Exit codes: 0 ok; 1 eval regression or other failure; 2 bad input (file, field, setting).
"""

from __future__ import annotations

import json
import logging
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent.errors import UmreviewError

if TYPE_CHECKING:
    from agent.cases.model import Case
    from agent.review.reviewer import Reviewer

app = typer.Typer(
    name="umreview",
    help="LLM-assisted utilization review of spine-imaging requests, with cited, validated recommendations.\n\n"
    "A 'deny' is always a recommendation for physician review, never a final decision.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

BackendOpt = Annotated[
    str | None, typer.Option("--backend", "-b", help="offline (rules engine, default) or openai; env UMREVIEW_BACKEND")
]
PolicyOpt = Annotated[
    str | None, typer.Option("--policy", "-p", help="Criteria set id (default acr-default); env UMREVIEW_POLICY")
]
ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Model for the openai backend; env UMREVIEW_OPENAI_MODEL")]
OutOpt = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="Write <case id>.json (and .md with --markdown) here; finished cases are skipped on re-run"),
]
ConcurrencyOpt = Annotated[
    int | None, typer.Option("--concurrency", "-c", min=1, max=64, help="Cases reviewed at once; env UMREVIEW_CONCURRENCY")
]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Ask the model again instead of reusing cached replies")]


def _progress() -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=err, transient=True)


@app.command()
def review(
    paths: Annotated[list[Path], typer.Argument(help="Case files (YAML, JSON, JSONL, FHIR Bundle) or directories of them")],
    as_json: Annotated[bool, typer.Option("--json", help="Print determinations as JSON")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print determinations as Markdown")] = False,
    out_dir: OutOpt = None,
    backend: BackendOpt = None,
    model: ModelOpt = None,
    policy: PolicyOpt = None,
    concurrency: ConcurrencyOpt = None,
    no_cache: NoCacheOpt = False,
    force: Annotated[bool, typer.Option("--force", help="With --out: redo cases that already have a result")] = False,
    no_store: Annotated[bool, typer.Option("--no-store", help="Do not save the reviews in the audit store")] = False,
) -> None:
    """Review request files and print a recommendation per requested code."""
    from agent.cases.load import load_cases
    from agent.knowledge.base import KnowledgeBase
    from agent.review.batch import run_batch
    from agent.review.render import determination_view, summary_table, to_markdown
    from agent.review.reviewer import Reviewer
    from agent.settings import get_settings

    loaded = load_cases(paths)
    for problem in loaded.errors:
        err.print(f"[red]error:[/] {escape(str(problem))}")
    if not loaded.cases:
        raise typer.Exit(2)
    overrides = {k: v for k, v in {"openai_model": model, "llm_cache": False if no_cache else None}.items() if v is not None}
    settings = get_settings().model_copy(update=overrides)
    reviewer = Reviewer(KnowledgeBase(settings), backend=backend, policy=policy)
    unroutable = _unroutable(reviewer, loaded.cases, loaded.sources)  # no set or version for it: bad input, the rest runs
    loaded.cases = [c for c in loaded.cases if c.id not in unroutable]
    if not loaded.cases:
        raise typer.Exit(2)
    save = cli_reviewer.ReviewSaver(loaded.cases, no_store=no_store)  # audit store: saves each review, prints its id
    with _progress() as progress:
        task = progress.add_task("reviewing", total=len(loaded.cases), visible=len(loaded.cases) > 1)

        def started(resumed: int, todo: int) -> None:
            if resumed:
                err.print(f"{resumed} case(s) already reviewed in {out_dir}; skipping them (use --force to redo)")
            progress.update(task, total=todo)

        batch = partial(run_batch, out_dir=out_dir, force=force, markdown=markdown, on_start=started)
        try:
            result = batch(
                loaded.cases,
                reviewer.review,
                concurrency=concurrency or settings.concurrency,
                prices=settings.prices,
                default_model=reviewer.backend.model,
                on_done=save.then(lambda _: progress.advance(task)),  # audit store: save, then advance
            )
        except KeyboardInterrupt:
            err.print(f"interrupted: finished cases are saved in {out_dir or '(no --out)'}; run the same command again to resume")
            raise typer.Exit(130) from None
    results = result.determinations
    if as_json:
        payload = [json.loads(d.model_dump_json()) for d in results]
        out.print_json(data=payload[0] if len(payload) == 1 else payload)
    elif markdown:
        # soft_wrap: a Markdown table row stays one line whatever the terminal's width
        out.print("\n".join(to_markdown(d) for d in results), markup=False, highlight=False, soft_wrap=True)
    else:
        for det in results:
            out.print(determination_view(det))
        if len(results) > 1:
            out.print(summary_table(results))
    if len(loaded.cases) > 1 or reviewer.backend.kind == "llm":
        err.print(result.summary.line(), markup=False, highlight=False)
    if loaded.errors or unroutable:
        raise typer.Exit(2)


def _unroutable(reviewer: Reviewer, cases: list[Case], sources: dict[str, str]) -> set[str]:
    """Cases no criteria set and version can judge (an unmapped plan, a date no version covers), reported."""
    bad = set()
    for case in cases:
        try:
            reviewer.for_case(case)
        except UmreviewError as exc:
            err.print(f"[red]error:[/] {escape(sources.get(case.id, case.id))}: {escape(str(exc))}")
            bad.add(case.id)
    return bad


@app.command()
def schema() -> None:
    """Print the JSON Schema of a Determination (the --json output)."""
    from agent.cases.determination import Determination

    out.print_json(data=Determination.model_json_schema())


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Free-text query")],
    k: Annotated[int, typer.Option("-k", help="Number of chunks")] = 5,
    region: Annotated[str | None, typer.Option(help="cervical, thoracic or lumbar")] = None,
    topic: Annotated[str | None, typer.Option(help="Only chunks of this topic")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search the guideline knowledge base (hybrid dense + lexical)."""
    from agent.knowledge.base import KnowledgeBase
    from agent.knowledge.retrieval import Filters

    hits = KnowledgeBase().search(query, k, Filters(region=region, topic=topic))
    if as_json:
        rows = [{"chunk_id": h.chunk.id, "score": h.score, "section": h.chunk.section, "text": h.chunk.text} for h in hits]
        out.print_json(data=rows)
        return
    table = Table(title=f"Top {len(hits)} chunks")
    for col in ("#", "chunk", "section", "text"):
        table.add_column(col, overflow="fold")
    for i, h in enumerate(hits, 1):
        table.add_row(str(i), h.chunk.id, h.chunk.section, h.chunk.text[:240] + ("..." if len(h.chunk.text) > 240 else ""))
    out.print(table)


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Guideline documents to add (Markdown, text, HTML, PDF) or folders")
    ] = None,
) -> None:
    """Add documents to the knowledge base and embed whatever changed (incremental)."""
    from agent.knowledge.base import KnowledgeBase
    from agent.knowledge.ingest import ingest_files

    kb = KnowledgeBase()
    written = ingest_files(paths, kb.settings.guidelines_dir) if paths else []
    with _progress() as progress:
        task = progress.add_task("embedding chunks", total=None)

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            added, deleted = kb.sync(tick)
        except UmreviewError:
            for file in written:  # the knowledge base refused them: leave it as it was
                file.unlink(missing_ok=True)
            raise
    for file in written:
        err.print(f"added {file.name}", markup=False, highlight=False)
    size = f"{len(kb.corpus.chunks)} chunks from {len(kb.corpus.documents)} documents"
    out.print(f"knowledge base {kb.version}: {size}; {added} embedded, {deleted} removed")


@app.command()
def kb() -> None:
    """Show the knowledge base: documents, versions, criteria sets."""
    from agent.knowledge.base import KnowledgeBase

    base = KnowledgeBase()
    table = Table(title=f"Knowledge base {base.version}")
    for col in ("document", "title", "version", "region", "chunks"):
        table.add_column(col)
    for doc in base.corpus.documents:
        n = sum(1 for c in base.corpus.chunks if c.document_id == doc.meta.id)
        table.add_row(doc.meta.id, doc.meta.title, doc.meta.version, doc.meta.region, str(n))
    out.print(table)
    out.print("criteria sets: " + ", ".join(base.policies()))


def main() -> None:
    """Console entry point: user-facing errors become a message and an exit code, not a traceback."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("bm25s", "chromadb", "httpx", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        app()
    except UmreviewError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")  # messages may hold [brackets] (regexes): not markup
        sys.exit(exc.exit_code)


# Command groups that live in their own modules (each exposes register(app)).
from agent.cli import ask as cli_ask  # noqa: E402

cli_ask.register(app)
from agent.cli import eval as cli_eval  # noqa: E402

cli_eval.register(app)
from agent.cli import reviewer as cli_reviewer  # noqa: E402

cli_reviewer.register(app)
from agent.cli import serve as cli_serve  # noqa: E402

cli_serve.register(app)
from agent.cli import letters as cli_letters  # noqa: E402

cli_letters.register(app)
from agent.cli import db as cli_db  # noqa: E402

cli_db.register(app)
from agent.cli import oversight as cli_oversight  # noqa: E402

cli_oversight.register(app)
from agent.cli import policy as cli_policy  # noqa: E402

cli_policy.register(app)
