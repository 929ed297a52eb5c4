"""The HTML report and its Markdown twin, read from results folders; and a real browser."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from browser import check_page, find_chromium
from experiment_folders import write_experiment
from helpers import optimization_doc, tweak, write_doc
from typer.testing import CliRunner

import simulator
from simulator.cli import app
from simulator.errors import ModsimError
from simulator.experiments.execution import Execution
from simulator.experiments.executors import SerialExecutor
from simulator.experiments.robustness import robustness_study
from simulator.folders.load import RobustnessFolder, SearchFolder, load_results
from simulator.folders.run import write_run
from simulator.format import number
from simulator.metrics.curves import latency_cdf
from simulator.report.html import build_report, render_twin, write_report
from simulator.studies import optimize, write_robustness, write_search

RUN_FIGURES = ["fig-latency", "fig-time"]  # one team: its utilisation is in tab-review
RUN_TABLES = ["tab-thresholds", "tab-channels", "tab-review", "tab-timeline"]
CMP_FIGURES = ["fig-latency", "fig-time", "fig-frontier", "fig-utilisation"]
CMP_TABLES = ["tab-thresholds", "tab-metrics", "tab-differences", "tab-why", "tab-cells"]
SEARCH_FIGURES = ["fig-pareto", "fig-sensitivity"]
SEARCH_TABLES = [
    "tbl-recommended",
    "tbl-constraints",
    "tbl-changes",
    "tbl-pareto",
    "tbl-trials",
    "tbl-robustness",
    "tbl-uncertain",
    "tbl-sensitivity",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, quick_sampled, jury_only, strict_host) -> Path:
    out = tmp_path_factory.mktemp("run")
    write_run(simulator.simulate(quick_sampled, jury_only, [strict_host], seed=3), out)
    write_report(out)
    return out


@pytest.fixture(scope="module")
def compare_dir(tmp_path_factory, quick_sampled, jury_only, jury_plus_ai, ai_first, strict_host):
    out = tmp_path_factory.mktemp("cmp") / "compare"
    # prefilters trained on 200 texts a class (not 2,000: seconds a seed): the report
    # shows whatever classifier its runs had
    cheap = {"prefilter__model__train_per_class": 200}
    policies = [jury_only, tweak(jury_plus_ai, **cheap), tweak(ai_first, **cheap)]
    write_experiment(out, "compare", quick_sampled, policies, [strict_host], 3)
    write_report(out)
    return out


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory, quick_sampled, jury_only, strike_host):
    out = tmp_path_factory.mktemp("batch") / "batch"
    write_experiment(
        out,
        "batch",
        quick_sampled,
        [jury_only],
        [strike_host],
        2,
        sweep={"jury.pool_size": [100, 400, 1600]},
    )
    write_report(out)
    return out


@pytest.fixture(scope="module")
def search_dir(tmp_path_factory) -> Path:
    """A small real search (jury size against cost and a backlog cap) with its
    robustness study, written as `modsim optimize --robustness` writes it."""
    doc = optimization_doc(
        search={"jury.pool_size": {"choices": [40, 160, 640]}},
        # a YAML date-time (not a string): the report must not depend on which it was
        overrides=optimization_doc()["overrides"]
        | {"scenario.start": dt.datetime(2021, 3, 1), "scenario.days": 5},
        trials=4,
        seeds={"min": 3, "max": 6, "step": 3, "confidence": 0.9},
        robustness={
            "uncertain": {
                "jury.active_share": {"low": 0.01, "high": 0.2},
                "reach.half_life_hours": {"low": 5.9, "high": 6.1},
            },
            "samples": 2,
        },
    )
    base = tmp_path_factory.mktemp("search")
    spec = write_doc(base, doc)
    out = base / "search"
    result = optimize(spec, out=out, execution=Execution(executor=SerialExecutor()))
    assert result.recommended is not None, "the fixture needs a feasible candidate"
    policies = [result.base, result.recommended]
    rob = robustness_study(spec, policies, execution=Execution(executor=SerialExecutor()))
    write_robustness(rob, out, report=False)
    write_search(result, out, rob)
    return out


def _ids(text: str, prefix: str) -> set[str]:
    return set(re.findall(rf'id="({prefix}[^"]*)"', text))


@pytest.mark.parametrize("seed", [1, 2, 5])
def test_curves_agree_with_the_summary(quick_sampled, jury_only, strict_host, seed):
    r = simulator.simulate(quick_sampled, jury_only, [strict_host], seed=seed)
    s = r.summary
    # the daily harmful views add up to the exposure total
    total = sum(s["curves"]["daily"]["harmful_views"])
    assert total == pytest.approx(s["violating"]["views_before_removal"]["total"], rel=1e-6)
    # the CDF on the thresholds is the thresholds table
    from simulator.engine import Simulation

    log = Simulation(quick_sampled, jury_only, [strict_host], seed).run()
    th = tuple(float(w["threshold_hours"]) for w in s["violating"]["within"])
    got = latency_cdf(log, th)["share"]
    assert got == [w["share"] for w in s["violating"]["within"]]


def test_run_twin_is_the_runs_own_report(run_dir):
    folder = load_results(run_dir)
    rep = build_report(folder)
    assert render_twin(folder, rep, "report.html") == (run_dir / "report.md").read_text()
    assert (run_dir / "report.md").read_text() == (run_dir / "report.md").read_text()


def test_run_report_has_its_figures_tables_and_summary(run_dir):
    text = (run_dir / "report.html").read_text()
    assert _ids(text, "fig-") == set(RUN_FIGURES)
    assert _ids(text, "tab-") >= set(RUN_TABLES)
    assert text.count("<svg") == len(RUN_FIGURES)
    # self-contained: nothing fetched from anywhere
    assert not re.search(r'(src|href)="(https?:)?//', text)
    assert "<link" not in text and "<img" not in text
    md = (run_dir / "report.md").read_text()
    summary = json.loads((run_dir / "summary.json").read_text())
    for w in summary["violating"]["within"]:
        if w["share"] is not None:
            shown = f"{100 * w['share']:.1f}%"
            assert shown in text and shown in md
    for line in re.findall(r"^- (Thresholds: .*|Takedown: .*|Trade-off: .*)$", md, re.M):
        assert htmllib.escape(line, quote=False) in text


def test_compare_report(compare_dir):
    text = (compare_dir / "report.html").read_text()
    md = (compare_dir / "report.md").read_text()
    assert _ids(text, "fig-") == set(CMP_FIGURES)
    assert _ids(text, "tab-") == set(CMP_TABLES)
    for name in ("jury-only", "jury-plus-ai", "ai-first"):
        # the share removed within each threshold, not only a yes/no
        said = re.search(rf"^- {name}: removes (\d+\.\d)% of violating posts within 1 h", md, re.M)
        assert said and f"<li>{name}: removes" in text
    assert "Trade-off, ai-first against jury-only (paired by seed)" in md
    # differences in words, with their direction and size, never bare signed numbers
    trade = re.search(r"^- Trade-off, ai-first against jury-only.*$", md, re.M)
    assert trade and re.search(r"(fewer|more) harmful views|no clear change in harmful", trade[0])
    assert not re.search(r"[+-]\d[\d,.]* \(", trade[0])
    # each policy's own classifier in the inputs, not the first run's for all
    assert "<li>jury-only: classifier: none (this policy has no AI prefilter).</li>" in text
    for name in ("jury-plus-ai", "ai-first"):
        assert re.search(rf"<li>{name}: classifier \(\w+ scores\): ROC-AUC 0\.\d+", text)
    # no 20-digit seeds in the cells table: they are in the inputs and cells.csv
    block = text.split('id="tab-cells"')[1].split("</table>")[0]
    assert not re.search(r"\d{12,}", block)
    # the twin carries the table numbers the HTML shows
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", text)
    for c in cells:
        assert htmllib.unescape(c).replace("|", "\\|") in md
    # one row per cell in the cells table
    block = text.split('id="tab-cells"')[1].split("</table>")[0]
    assert block.count("<tr>") == 1 + 9


def test_batch_report_plots_metrics_against_the_sweep(batch_dir):
    text = (batch_dir / "report.html").read_text()
    figs = _ids(text, "fig-sweep-")
    assert "fig-sweep-jury-pool-size-wrongful-removals" in figs
    assert "fig-sweep-jury-pool-size-views-before-removal" in figs
    assert "jury.pool_size=1600" in text
    block = text.split('id="tab-cells"')[1].split("</table>")[0]
    assert block.count("<tr>") == 1 + 6


def test_not_a_results_folder(tmp_path):
    with pytest.raises(ModsimError, match="not a results folder"):
        load_results(tmp_path)
    (tmp_path / "experiment.json").write_text('{"kind": "batch"}')
    with pytest.raises(ModsimError, match=r"missing cells\.csv"):
        load_results(tmp_path)
    r = CliRunner().invoke(app, ["report", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "no such results folder" in r.output


def test_cli_report_writes_html_and_twin(run_dir, tmp_path):
    out = tmp_path / "x.html"
    r = CliRunner().invoke(app, ["report", str(run_dir), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_text() == (run_dir / "report.html").read_text()
    assert out.with_suffix(".md").read_text() == (run_dir / "report.md").read_text()
    r = CliRunner().invoke(app, ["report", str(run_dir), "-o", str(out)])
    assert r.exit_code == 2 and "--force" in r.output


def test_same_results_give_the_same_report(run_dir, tmp_path):
    out = tmp_path / "again.html"
    write_report(run_dir, out)
    assert out.read_text() == (run_dir / "report.html").read_text()


_CHECK = """(() => {
  const overlaps = [];
  for (const fig of document.querySelectorAll('figure.plot')) {
    const boxes = Array.from(fig.querySelectorAll('svg text'))
      .filter(t => t.textContent.trim())
      .map(t => [t.textContent.trim(), t.getBoundingClientRect()]);
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [a, p] = boxes[i], [b, q] = boxes[j];
      const w = Math.min(p.right, q.right) - Math.max(p.left, q.left);
      const h = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
      if (w > 1 && h > 1) overlaps.push(`${fig.id}: "${a}" / "${b}"`);
    }
  }
  return JSON.stringify({
    figures: Array.from(document.querySelectorAll('figure.plot')).filter(
      f => f.querySelector('svg') && f.querySelector('svg').getBoundingClientRect().height > 50
    ).map(f => f.id),
    tables: Array.from(document.querySelectorAll('table')).filter(
      t => t.rows.length > 0 && t.getBoundingClientRect().height > 0).map(t => t.id),
    summary: document.querySelectorAll('#summary li').length,
    overlaps: overlaps,
    multipliers: Array.from(document.querySelectorAll('svg text')).map(t => t.textContent.trim())
      .filter(t => /^[-+]?\\d*\\.?\\d+e[-+]?\\d+$|^1e\\d/i.test(t)),
    inputs: Array.from(document.querySelectorAll('#inputs li')).map(li => li.textContent),
    innerWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
  });
})()"""


@pytest.mark.parametrize(
    "which, figures, tables",
    [
        ("run", RUN_FIGURES, RUN_TABLES),
        ("compare", CMP_FIGURES, CMP_TABLES),
        ("search", SEARCH_FIGURES, SEARCH_TABLES),
    ],
)
def test_report_in_a_real_browser(
    which, figures, tables, run_dir, compare_dir, search_dir, tmp_path
):
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI is set but no chromium binary was found (apt-get install chromium)")
        pytest.skip("no chromium binary found (install Debian's chromium or set $CHROMIUM)")
    folder = {"run": run_dir, "compare": compare_dir, "search": search_dir}[which]
    page = check_page(binary, (folder / "report.html").as_uri(), _CHECK, tmp_path / "profile")
    shot = tmp_path / f"report-{which}.png"
    shot.write_bytes(page.screenshot)
    assert page.errors == []
    found = json.loads(page.result)
    assert found["innerWidth"] == 1280
    assert found["scrollWidth"] <= found["innerWidth"], "the page overflows sideways at 1280 px"
    assert found["overlaps"] == [], "labels drawn over each other"
    assert found["multipliers"] == [], "an axis uses a 1e-multiplier"
    if which == "compare":  # each policy's own classifier, as the reader sees it
        inputs = found["inputs"]
        assert "jury-only: classifier: none (this policy has no AI prefilter)." in inputs
        assert any(line.startswith("ai-first: classifier (") for line in inputs)
    assert sorted(found["figures"]) == sorted(figures)
    assert set(tables) <= set(found["tables"])
    assert found["summary"] >= 3
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    assert (
        np.frombuffer(shot.read_bytes()[16:24], dtype=">u4")[1] > 900
    )  # a full page, not the viewport


def _cells(html: str, table_id: str) -> list[list[str]]:
    """The text of a report table's body rows."""
    body = html.split(f'<table id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], flags=re.S)
    return [
        [htmllib.unescape(re.sub("<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)]
        for r in rows
    ]


def test_search_report_carries_the_answer_and_is_rebuilt_from_the_folder(search_dir, tmp_path):
    folder = load_results(search_dir)
    assert isinstance(folder, SearchFolder) and folder.robustness is not None
    result, rob = folder.result, folder.robustness
    rec = result.recommendation
    assert rec is not None
    html = (search_dir / "report.html").read_text(encoding="utf-8")
    md = (search_dir / "report.md").read_text(encoding="utf-8")
    assert _ids(html, "fig-") == set(SEARCH_FIGURES)
    assert "![The trade-off (Pareto front)](pareto.png)" in md
    # The recommendation: its changes and its cost with the interval, as the record says.
    (row,) = _cells(html, "tbl-changes")
    assert row == ["jury.pool_size", "1000", str(rec["params"]["jury.pool_size"])]
    cost = _cells(html, "tbl-recommended")[0]
    assert cost[1] == f"{number(rec['cost_per_day'])} USD"
    assert (
        cost[2]
        == f"{number(rec['cost_per_day_ci_low'])} USD to {number(rec['cost_per_day_ci_high'])} USD"
    )
    (constraint,) = _cells(html, "tbl-constraints")
    assert constraint[0] == "jury_backlog_max <= 50" and constraint[3] == "holds"
    assert float(constraint[2].replace(",", "")) <= 50
    # Wrongful removals were not weighed by this search: the summary says so, with the figure.
    assert f"It also removed {number(rec['wrongful_removals'])} legitimate posts" in html
    assert "Fixed before searching: scenario.start = &#34;2021-03-01T00:00:00&#34;." in html
    # One row per evaluated trial; the front holds only feasible ones.
    assert len(_cells(html, "tbl-trials")) == len(result.trials)
    assert all(
        t in set(result.trials[result.trials["feasible"]]["trial"].astype(str))
        for t, *_ in _cells(html, "tbl-pareto")
    )
    # Robustness: each policy's count of scenarios meeting every constraint.
    counts = {r[0]: r[2] for r in _cells(html, "tbl-robustness")}
    for _, r in rob.table.iterrows():
        assert counts[r["policy"]].endswith(f"({r['meeting_all']} of {r['scenarios']})")
    # The sensitivity ranking starts with each policy's top input.
    ranking = _cells(html, "tbl-sensitivity")
    top = rob.sensitivity.sort_values("rank").groupby("policy").first()
    for policy, first in top.iterrows():
        assert next(r for r in ranking if r[1] == policy)[3] == first["input"]
    # The same sentences and numbers in the twin.
    for line in re.findall(r"<li>(.*?)</li>", html.split('id="summary"')[1].split("</section>")[0]):
        assert f"- {htmllib.unescape(line)}" in md
    # `modsim report` rebuilds both from the folder alone, byte for byte.
    out = tmp_path / "again.html"
    r = CliRunner().invoke(app, ["report", str(search_dir), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_text(encoding="utf-8") == html
    rel = os.path.relpath(search_dir, tmp_path)
    assert out.with_suffix(".md").read_text(encoding="utf-8") == md.replace(
        "](pareto.png)", f"]({rel}/pareto.png)"
    ).replace("](sensitivity.png)", f"]({rel}/sensitivity.png)")


def test_robustness_folder_has_its_own_report(search_dir, tmp_path):
    rob = load_results(search_dir)
    assert isinstance(rob, SearchFolder) and rob.robustness is not None
    out = tmp_path / "rob"
    files = write_robustness(rob.robustness, out)
    folder = load_results(out)
    assert isinstance(folder, RobustnessFolder)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert _ids(html, "fig-") == {"fig-sensitivity"}
    assert [r[0] for r in _cells(html, "tbl-robustness")] == list(rob.robustness.table["policy"])
    assert Path(files["report"]).read_text(encoding="utf-8") == html
    write_report(out, tmp_path / "again.html")
    assert (tmp_path / "again.html").read_text(encoding="utf-8") == html
