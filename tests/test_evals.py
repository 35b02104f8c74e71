"""The eval runner, its statistics, baseline comparison, reports, ``umreview eval`` and ``--lint``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import needs
import pytest
from needs import unavailable
from typer.testing import CliRunner

from agent.backends.base import DraftRequest
from agent.backends.offline import OfflineBackend
from agent.cases.determination import Determination, Violation
from agent.cases.load import load_cases
from agent.cli import eval as cli_eval
from agent.cli.main import app
from agent.evals.compare import compare
from agent.evals.lint import lint_cases
from agent.evals.metrics import cohen_kappa, confusion_matrix, flag_counts, mcnemar_exact, percentile
from agent.evals.report import confusion_svg, to_html, to_junit, to_markdown
from agent.evals.results import CaseResult, CodeResult, EvalResults, Outcome, load_results
from agent.evals.run import build_results, run_eval, usage_of
from agent.knowledge.base import KnowledgeBase
from agent.review.reviewer import Reviewer
from agent.settings import Settings

ROOT = Path(__file__).parent.parent
CASES = ROOT / "evals" / "cases"
BASELINE = ROOT / "evals" / "baseline.json"
runner = CliRunner()


# --- statistics on hand-made tables ----------------------------------------------------------


@pytest.mark.parametrize(
    ("matrix", "kappa"),
    [
        pytest.param([[20, 5], [10, 15]], 0.4, id="textbook-2x2"),  # p_o 0.7, p_e 0.5
        pytest.param([[45, 15], [25, 15]], 0.1304, id="wikipedia-2x2"),
        pytest.param([[10, 0, 0], [0, 10, 0], [0, 0, 10]], 1.0, id="perfect"),
        pytest.param([[0, 10], [10, 0]], -1.0, id="perfect-disagreement"),
        pytest.param([[7, 0], [0, 0]], 1.0, id="one-class-only"),
        pytest.param([[26, 0, 1], [0, 29, 0], [1, 0, 12]], 0.9543, id="three-class"),
    ],
)
def test_cohen_kappa(matrix: list[list[int]], kappa: float) -> None:
    assert cohen_kappa(matrix) == pytest.approx(kappa, abs=1e-4)


def test_kappa_agrees_with_sklearn() -> None:
    sklearn = needs.module("sklearn.metrics", "scikit-learn comes with sentence-transformers")
    expected = ["approve"] * 9 + ["deny"] * 7 + ["refer"] * 4
    predicted = ["approve"] * 7 + ["refer", "deny"] + ["deny"] * 6 + ["approve"] + ["refer"] * 3 + ["deny"]
    ours = cohen_kappa(confusion_matrix(zip(expected, predicted, strict=True)))
    assert ours == pytest.approx(sklearn.cohen_kappa_score(expected, predicted), abs=1e-4)


def test_kappa_of_nothing_is_undefined() -> None:
    assert cohen_kappa([[0, 0], [0, 0]]) is None


def test_confusion_matrix_rows_are_labels() -> None:
    pairs = [("approve", "approve"), ("approve", "refer"), ("deny", "approve"), ("refer", None)]
    assert confusion_matrix(pairs) == [[1, 0, 1], [1, 0, 0], [0, 0, 0]]


@pytest.mark.parametrize(
    ("b", "c", "p"),
    [
        pytest.param(0, 0, 1.0, id="no-discordant-pairs"),
        pytest.param(1, 0, 1.0, id="one-flip"),
        pytest.param(0, 6, 0.03125, id="six-one-way"),  # 2 * 0.5**6
        pytest.param(2, 8, 0.109375, id="two-vs-eight"),  # 2 * (1 + 10 + 45) / 1024
        pytest.param(5, 5, 1.0, id="balanced"),
    ],
)
def test_mcnemar_exact(b: int, c: int, p: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(p)
    assert mcnemar_exact(c, b) == pytest.approx(p)


def test_percentiles_interpolate() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 50) == 5.5
    assert percentile(values, 95) == pytest.approx(9.55)
    assert percentile([3.0], 95) == 3.0
    assert percentile([], 50) is None


def test_red_flag_recall_and_precision_per_flag() -> None:
    cases = [
        ({"cauda_equina"}, {"cauda_equina"}),  # tp cauda
        ({"cauda_equina", "infection"}, {"infection"}),  # fn cauda, tp infection
        (set(), {"fracture"}),  # fp fracture
        ({"fracture"}, {"fracture"}),  # tp fracture
    ]
    got = flag_counts(cases)
    assert got["cauda_equina"] == {"tp": 1, "fp": 0, "fn": 1, "support": 2, "recall": 0.5, "precision": 1.0}
    assert got["fracture"]["precision"] == 0.5 and got["fracture"]["recall"] == 1.0
    assert got["infection"]["recall"] == 1.0


# --- summary, safety errors, comparison ----------------------------------------------------------


def _case(
    cid: str, expected: dict[str, str], predicted: dict[str, str], flags: tuple[list[str], list[str]] = ([], [])
) -> CaseResult:
    codes = {c: CodeResult(expected=e, predicted=predicted.get(c), correct=predicted.get(c) == e) for c, e in expected.items()}
    return CaseResult(
        id=cid,
        predicted=Outcome(decisions=predicted, red_flags=flags[1]),
        expected=Outcome(decisions=expected, red_flags=flags[0]),
        correct=all(r.correct for r in codes.values()),
        codes=codes,
        latency_ms=10.0,
    )


def _results(*cases: CaseResult) -> EvalResults:
    return build_results(list(cases), {"backend": "test", "repeat": 1})


def test_unsafe_denials_and_unnecessary_approvals() -> None:
    results = _results(
        _case("a", {"72148": "approve"}, {"72148": "deny"}),  # unsafe: label approves
        _case("b", {"72148": "refer"}, {"72148": "deny"}, (["fracture"], ["fracture"])),  # unsafe: red flag
        _case("c", {"72148": "refer"}, {"72148": "deny"}),  # wrong, not unsafe
        _case("d", {"72148": "deny"}, {"72148": "approve"}),  # unnecessary approval
        _case("e", {"72148": "deny"}, {"72148": "deny"}, (["infection"], [])),  # a red-flag miss
    )
    s = results.summary
    assert [(r["case"], r["code"]) for r in s["unsafe_denials"]] == [("a", "72148"), ("b", "72148")]
    assert [r["case"] for r in s["unnecessary_approvals"]] == ["d"]
    assert s["red_flags"]["misses"] == [{"case": "e", "flag": "infection"}]
    assert s["accuracy"] == 0.2 and s["codes"] == 5
    assert s["confusion"]["matrix"] == [[0, 1, 0], [1, 1, 0], [0, 2, 0]]
    assert s["refer_rate"] == 0.0 and s["expected_refer_rate"] == 0.4


def test_compare_finds_fixed_broken_and_regressions() -> None:
    base = _results(
        _case("a", {"1": "deny"}, {"1": "deny"}),
        _case("b", {"1": "approve"}, {"1": "refer"}),
        _case("c", {"1": "deny"}, {"1": "deny"}),
    )
    now = _results(
        _case("a", {"1": "approve"}, {"1": "deny"}),  # label flipped: a new unsafe denial
        _case("b", {"1": "approve"}, {"1": "approve"}),  # fixed
        _case("c", {"1": "deny"}, {"1": "deny"}, (["fracture"], [])),  # new red-flag miss
        _case("d", {"1": "refer"}, {"1": "refer"}),  # new case
    )
    cmp = compare(now, base)
    assert {r.case: r.status for r in cmp.rows} == {"a": "broken", "b": "fixed", "c": "changed", "d": "new"}
    assert cmp.new_unsafe_denials == [{"case": "a", "code": "1", "expected": "approve", "predicted": "deny"}]
    assert cmp.new_red_flag_misses == [{"case": "c", "flag": "fracture"}]
    assert cmp.regression and len(cmp.reasons) == 2
    overall = cmp.paired[0]
    assert overall.category == "all" and overall.only_baseline_correct == 1 and overall.only_current_correct == 1
    assert compare(base, base).reasons == []


def test_accuracy_regression_respects_tolerance() -> None:
    right = [_case(f"c{i}", {"1": "deny"}, {"1": "deny"}) for i in range(50)]
    one_wrong = [*right[:49], _case("c49", {"1": "deny"}, {"1": "refer"})]
    two_wrong = [*right[:48], _case("c48", {"1": "deny"}, {"1": "refer"}), _case("c49", {"1": "deny"}, {"1": "refer"})]
    base = _results(*right)
    assert not compare(_results(*one_wrong), base).regression  # 0.98 vs 1.0: within 0.02
    assert compare(_results(*two_wrong), base).regression  # 0.96
    assert not compare(_results(*two_wrong), base, tolerance=0.05).regression


def test_no_baseline_means_absolute_safety_checks() -> None:
    now = _results(_case("a", {"1": "approve"}, {"1": "deny"}), _case("b", {"1": "deny"}, {"1": "refer"}))
    cmp = compare(now, None)
    assert cmp.rows == [] and cmp.regression and "unsafe denial" in cmp.reasons[0]


def test_usage_is_read_defensively() -> None:
    class Usage:
        input_tokens = 120
        output_tokens = 30

    class Det:
        usage = Usage()
        provenance = type("P", (), {"cost_usd": 0.0021})()

    assert usage_of(Det()) == {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150, "cost_usd": 0.0021}  # type: ignore[arg-type]  # duck-typed stand-in


# --- the runner ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """Retrieval through a deterministic fake embedder: the real pipeline, no model."""
    from test_retrieval import HashEmbedder

    base = KnowledgeBase(Settings(data_dir=tmp_path_factory.mktemp("eval-kb")), embedder=HashEmbedder())
    base.sync()
    return base


class BlindCheckingBackend(OfflineBackend):
    """The offline backend, asserting it never receives labels; flips deny to refer on every other call."""

    def __init__(self, flaky: bool = False) -> None:
        self.calls = 0
        self.flaky = flaky

    def draft(self, request: DraftRequest, feedback: list[Violation] | None = None) -> Determination:
        assert request.case.expected is None, "the system under test saw the labels"
        self.calls += 1
        det = super().draft(request, feedback)
        if self.flaky and self.calls % 2 == 0:
            codes = [d.model_copy(update={"decision": "refer"}) if d.decision == "deny" else d for d in det.determinations]
            det = det.model_copy(update={"determinations": codes})
        return det


def test_runner_never_shows_labels_and_scores_retrieval(kb: KnowledgeBase) -> None:
    loaded = load_cases([CASES])
    cases = [c for c in loaded.cases if c.id.startswith(("lbp-r", "neck-c", "brain"))]
    backend = BlindCheckingBackend()
    results = run_eval(cases, Reviewer(kb, backend=backend, retrieve=True), sources=loaded.sources)
    assert backend.calls == len(cases) and all(c.expected is not None for c in cases)
    s = results.summary
    assert s["cases"] == len(cases) and s["schema"]["invalid"] == 0 and s["errors"] == 0
    assert s["retrieval"]["scored_codes"] > 0 and s["retrieval"]["hit_rate"] is not None
    brain = results.case("brain-mri-headache-out-of-scope")
    assert brain is not None and brain.codes["70551"].retrieval_hit is None  # no topic, nothing to hit
    assert brain.codes["70551"].region == "out_of_scope"


def test_repeat_measures_decision_flips(kb: KnowledgeBase) -> None:
    loaded = load_cases([CASES / "lbp-acute-axial-2wk-no-red-flags.yaml", CASES / "neck-axial-pain-xray-first.yaml"])
    results = run_eval(loaded.cases, Reviewer(kb, backend=BlindCheckingBackend(flaky=True), retrieve=False), repeat=2)
    flips = results.summary["flips"]
    assert flips["repeat"] == 2 and flips["pairs"] == 2
    assert flips["flipped"] == 1 and flips["rate"] == 0.5
    assert flips["cases"][0]["decisions"] == ["deny", "refer"]
    assert len(results.cases[0].repeat_latencies_ms or []) == 2


def test_a_crashing_case_is_recorded_not_raised(kb: KnowledgeBase) -> None:
    class Broken(OfflineBackend):
        def draft(self, request: DraftRequest, feedback: list[Violation] | None = None) -> Determination:
            raise RuntimeError("boom")

    reviewer = Reviewer(kb, backend=Broken(), retrieve=False)
    reviewer.review = lambda case: (_ for _ in ()).throw(RuntimeError("boom"))  # type: ignore[method-assign]  # a bug outside the loop's fallback
    results = run_eval(load_cases([CASES / "lbp-saddle-hypoesthesia-on-exam.yaml"]).cases, reviewer)
    case = results.cases[0]
    assert case.error == "RuntimeError: boom" and not case.correct and not case.schema_valid
    assert results.summary["errors"] == 1 and results.summary["red_flags"]["misses"]


def test_llm_backend_usage_cost_and_paths(kb: KnowledgeBase, tmp_path: Path) -> None:
    """Through the real OpenAI client and a local fake server: tokens, cost and draft paths are summed."""
    from fake_openai import FakeOpenAI, Reply
    from llm_drafts import faithful

    from agent.backends.openai import OpenAIBackend

    server = FakeOpenAI().start()
    try:
        settings = Settings(data_dir=tmp_path, openai_base_url=server.url, openai_model="gpt-4o-mini", llm_cache=False)
        reviewer = Reviewer(kb, backend=OpenAIBackend(settings), retrieve=True)
        cases = load_cases([CASES / "neck-c7-radic-3wk.yaml", CASES / "lbp-saddle-hypoesthesia-on-exam.yaml"]).cases
        for case in cases:
            server.enqueue(Reply(arguments=faithful(reviewer.request_for(case.model_copy(update={"expected": None})))))
        results = run_eval(cases, reviewer)
    finally:
        server.stop()
    s = results.summary
    assert s["run"]["backend"] == "openai" and s["run"]["model"] == "gpt-4o-mini"
    label_notes = [c.expected.notes for c in cases if c.expected and c.expected.notes]
    prompts = [json.dumps(body, ensure_ascii=False) for body in server.requests]
    assert label_notes and not [n for n in label_notes for prompt in prompts if n[:60] in prompt]
    assert s["usage"]["prompt_tokens"] == 2400 and s["usage"]["completion_tokens"] == 600 and s["usage"]["requests"] == 2
    assert s["usage"]["cost_usd"] == pytest.approx((2400 * 0.15 + 600 * 0.60) / 1e6)
    assert s["paths"] == {"accepted": 2} and s["fallback"]["count"] == 0
    assert s["accuracy"] == 1.0


def test_no_cache_switches_the_llm_cache_off() -> None:
    assert cli_eval.eval_settings(no_cache=True).llm_cache is False
    assert cli_eval.eval_settings(no_cache=False).llm_cache is True


# --- the command line ------------------------------------------------------------------------------


@pytest.fixture
def fast_kb(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> KnowledgeBase:
    monkeypatch.setattr(cli_eval, "knowledge_base", lambda settings: kb)
    return kb


def test_eval_command_writes_results_and_reports(fast_kb: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["eval", str(CASES), "--results", "r.json", "--report", "r.html", "--report", "r.md", "--junit", "j.xml"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "r.json").read_text())
    assert set(data) == {"summary", "cases"}
    assert data["summary"]["format"] == "umreview-eval/1" and data["summary"]["cases"] == len(data["cases"]) >= 50
    first = data["cases"][0]
    assert {"id", "predicted", "expected", "correct", "findings", "latency_ms"} <= set(first)
    assert set(first["predicted"]) >= {"decisions", "red_flags", "alternatives"}
    html = (tmp_path / "r.html").read_text()
    assert "<svg" in html and "Confusion matrix" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "<link" not in html and "<script" not in html
    assert (tmp_path / "r.md").read_text().startswith("## umreview eval")
    assert "<testsuites" in (tmp_path / "j.xml").read_text()
    assert "Accuracy" in result.stdout


def _copy_cases(tmp_path: Path) -> Path:
    target = tmp_path / "cases"
    shutil.copytree(CASES, target)
    return target


def test_flipped_label_fails_against_the_committed_baseline(fast_kb: KnowledgeBase, tmp_path: Path) -> None:
    gate = ["--baseline", str(BASELINE), "--fail-on-regression"]
    original = runner.invoke(app, ["eval", str(CASES), *gate])
    assert original.exit_code == 0, original.output
    cases = _copy_cases(tmp_path)
    flipped = cases / "lbp-acute-axial-2wk-no-red-flags.yaml"
    text = flipped.read_text()
    assert '"72148": deny' in text
    flipped.write_text(text.replace('"72148": deny', '"72148": approve'))
    outputs = ["--report", str(tmp_path / "r.html"), "--junit", str(tmp_path / "j.xml")]
    result = runner.invoke(app, ["eval", str(cases), *gate, *outputs])
    assert result.exit_code == 1, result.output
    assert "new unsafe denial" in result.stderr and "lbp-acute-axial-2wk-no-red-flags" in result.stderr
    assert "broken" in result.stdout
    assert "Regression against the baseline" in (tmp_path / "r.html").read_text()
    assert 'name="no_new_unsafe_denials"' in (tmp_path / "j.xml").read_text()


def test_added_red_flag_label_is_a_regression(fast_kb: KnowledgeBase, tmp_path: Path) -> None:
    cases = _copy_cases(tmp_path)
    path = cases / "lbp-diabetes-only-4wk.yaml"
    path.write_text(path.read_text().replace("red_flags: []", "red_flags: [infection]"))
    result = runner.invoke(app, ["eval", str(cases), "--baseline", str(BASELINE), "--fail-on-regression"])
    assert result.exit_code == 1 and "red-flag miss" in result.stderr


def test_ctrl_c_keeps_finished_cases(fast_kb: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import agent.evals.run

    real = agent.evals.run.evaluate_case
    seen: list[str] = []

    def interrupt_third(case: Any, *args: Any, **kwargs: Any) -> CaseResult:
        if len(seen) == 2:
            raise KeyboardInterrupt
        seen.append(case.id)
        return real(case, *args, **kwargs)

    monkeypatch.setattr(agent.evals.run, "evaluate_case", interrupt_third)
    out = tmp_path / "partial.json"
    result = runner.invoke(app, ["eval", str(CASES), "--results", str(out), "--baseline", str(BASELINE)])
    assert result.exit_code == cli_eval.EXIT_INTERRUPTED
    partial = load_results(out)
    assert [c.id for c in partial.cases] == seen
    assert partial.summary["run"]["interrupted"] is True and partial.summary["run"]["planned_cases"] >= 50
    assert partial.summary["comparison"]["counts"]["removed"] == 0


def test_bad_baseline_and_unlabeled_cases_exit_2(fast_kb: KnowledgeBase, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"summary": {"format": "something-else"}, "cases": []}')
    result = runner.invoke(app, ["eval", str(CASES / "neck-c7-radic-3wk.yaml"), "--baseline", str(bad)])
    assert result.exit_code == 2 and "unsupported results format" in result.stderr
    unlabeled = tmp_path / "unlabeled.yaml"
    unlabeled.write_text(CASE.format(id="unlabeled", extra_code="", decisions="", flags="[]").split("expected:")[0])
    result = runner.invoke(app, ["eval", str(unlabeled)])
    assert result.exit_code == 2 and "has no labels" in result.stderr


# --- lint ----------------------------------------------------------------------------------------


def test_lint_clean_set() -> None:
    assert [p for p in lint_cases([CASES]) if p.severity == "error"] == []
    result = runner.invoke(app, ["eval", "--lint", str(CASES)])
    assert result.exit_code == 0, result.output


CASE = """id: {id}
request:
  patient: {{age: 50, sex: female}}
  procedures: [{{code: "72148"}}{extra_code}]
  clinical_notes: LBP x 3 wks.
expected:
  decisions: {{{decisions}}}
  red_flags: {flags}
"""


def test_lint_finds_each_planted_problem(tmp_path: Path) -> None:
    def write(name: str, **kw: str) -> None:
        fields = {"id": name, "extra_code": "", "decisions": '"72148": deny', "flags": "[]"} | kw
        (tmp_path / f"{name}.yaml").write_text(CASE.format(**fields))

    write("ok")
    write("zz-dup", id="ok")  # duplicate id
    write("schema", decisions='"72148": maybe')  # schema error
    write("unrequested", decisions='"72148": deny, "72141": approve')  # label for a code not requested
    write("unlabeled", extra_code=', {code: "72100"}')  # requested code without a label
    write("flag", flags="[saddle_anesthesia]")  # unknown red-flag id
    kinds = {(p.source.rsplit("/", 1)[-1], p.kind) for p in lint_cases([tmp_path])}
    assert ("zz-dup.yaml", "duplicate_id") in kinds
    assert ("schema.yaml", "schema") in kinds
    assert ("unrequested.yaml", "label_for_unrequested_code") in kinds
    assert ("unlabeled.yaml", "unlabeled_code") in kinds
    assert ("flag.yaml", "unknown_red_flag") in kinds
    assert not [k for k in kinds if k[0] == "ok.yaml"]
    result = runner.invoke(app, ["eval", "--lint", str(tmp_path)])
    assert result.exit_code == 2
    for kind in ("duplicate_id", "schema", "label_for_unrequested_code", "unlabeled_code", "unknown_red_flag"):
        assert kind in result.stdout


# --- reports -------------------------------------------------------------------------------------


def test_reports_escape_note_text_and_show_failing_cases() -> None:
    results = _results(
        _case("bad<case>", {"72148": "approve"}, {"72148": "deny"}), _case("fine", {"72148": "deny"}, {"72148": "deny"})
    )
    html = to_html(results, compare(results, None), notes={"bad<case>": "<script>alert(1)</script> LBP x 3 wks"})
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert 'id="case-bad&lt;case&gt;"' in html and "unsafe denial 72148" in html
    md = to_markdown(results)
    assert "bad<case>" in md and "72148: label approve, got deny" in md and "alert" not in md
    assert 'failures="1"' in to_junit(results)
    svg = confusion_svg([[1, 2, 0], [0, 3, 0], [0, 0, 0]], ["approve", "deny", "refer"])
    assert svg.startswith("<svg") and svg.count("<rect") == 9


@pytest.mark.slow
def test_report_in_a_real_browser(fast_kb: KnowledgeBase, tmp_path: Path) -> None:
    """Chromium renders the report: the confusion matrix and a failing case are visible."""
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        unavailable("/usr/bin/chromium is missing (.ci/run installs Debian's chromium)")
    sync_api = needs.module("playwright.sync_api", "the playwright package is in the dev extra")
    cases = _copy_cases(tmp_path)
    path = cases / "lbp-acute-axial-2wk-no-red-flags.yaml"
    path.write_text(path.read_text().replace('"72148": deny', '"72148": approve'))
    report = tmp_path / "report.html"
    result = runner.invoke(app, ["eval", str(cases), "--baseline", str(BASELINE), "--report", str(report)])
    assert result.exit_code == 0, result.output
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    args += ["--disable-component-update", "--disable-sync"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=args)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(report.as_uri())
            matrix = page.locator("#confusion-matrix svg")
            assert matrix.is_visible()
            box = matrix.bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 200
            failing = page.locator("#case-lbp-acute-axial-2wk-no-red-flags")
            failing.scroll_into_view_if_needed()
            assert failing.is_visible() and "unsafe denial 72148" in failing.inner_text()
            assert page.locator("#verdict").is_visible() and "Regression" in page.locator("#verdict").inner_text()
            page.screenshot(path=str(tmp_path / "eval-report.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "eval-report.png").stat().st_size > 10_000
