"""Reports of hostile and empty inputs, and the cost of a run before it starts.

A name with HTML, Markdown or mathtext in it reads as itself in report.md,
report.html and the figures; a run with nothing in it reads as sentences; a
large run says what it will cost (``simulator.estimate``, ``modsim run``).

Markdown is checked by parsing it (markdown-it, CommonMark with GitHub's
tables and strikethrough), not by looking for strings: what a reader's
viewer would render is what is tested.
"""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
import pytest
from helpers import ROOT, bundled, tweak
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token
from typer.testing import CliRunner

import simulator
from simulator.cli import app
from simulator.format import number
from simulator.report import plots
from simulator.report.context import Figure, Report, Table
from simulator.report.html import render_markdown, write_report
from simulator.report.markdown import MARKDOWN_ENV, mdcell, mdtext
from simulator.report.markdown import render_markdown as render_run_md
from simulator.report.run import run_summary_sentences

MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])

HOSTILE = [
    "<b>bold</b><script>alert(1)</script>",
    "[click](javascript:alert(1))",
    "![img](http://example.com/y.png) [ref]: http://example.com",
    "*em* _em_ **strong** __strong__ ~~gone~~",
    "# heading",
    "1. item",
    "- item",
    "+ item",
    "=",
    "a | b | c",
    "line one\nline two\r\n| x | y |\n|---|---|\n# h",
    "`code` and ```fence```",
    "$x^2$ and $\\undefinedcmd$",
    "&lt;b&gt; &#60; &amp; R&D",
    "<http://example.com> <a@example.com>",
    "back\\slash\\",
    "    indented",
    "> quote",
    "snake_case _lead trail_ __dunder__",
]
"""Names that would be markup if written into Markdown as they are."""


def _one_line(s: str) -> str:
    """What a reader should see: the name on one line, without blanks at either end."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+", " ", s).strip(" ")


def _inline(tokens: list[Token]) -> list[Token]:
    return [t for t in tokens if t.type == "inline"]


def _plain(inline: Token) -> str:
    """The text of an inline token; fails if any markup came out of it."""
    kinds = {c.type for c in inline.children or []}
    assert kinds <= {"text", "text_special"}, f"markup in {inline.content!r}: {kinds}"
    return "".join(c.content for c in inline.children or [])


# --- the filter pair --------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("where", ["line start", "mid line", "list item", "bold"])
def test_mdtext_reads_as_itself_wherever_it_stands(name: str, where: str) -> None:
    text = mdtext(name)
    line = {
        "line start": text,
        "mid line": f"Policy {text} ran.",
        "list item": f"- {text}",
        "bold": f"- **{text}.** rest",
    }[where]
    tokens = MD.parse(line + "\n")
    shown = {
        "line start": _one_line(name),
        "mid line": f"Policy {_one_line(name)} ran.",
        "list item": _one_line(name),
        "bold": f"{_one_line(name)}.",
    }[where]
    assert not [t for t in tokens if t.type.startswith(("heading", "html", "code", "fence"))]
    inlines = _inline(tokens)
    assert len(inlines) == 1
    if where == "bold":
        # the template's own bold, around the literal name
        kids = [k for k in inlines[0].children or [] if k.content or k.type != "text"]
        assert [k.type for k in kids][:3] == ["strong_open", "text", "strong_close"]
        assert kids[1].content == shown
    else:
        assert _plain(inlines[0]) == shown


@pytest.mark.parametrize("name", HOSTILE)
def test_mdcell_keeps_a_table_row_whole(name: str) -> None:
    table = f"| a | b |\n|---|---|\n| {mdcell(name)} | z |\n| y | z |\n"
    tokens = MD.parse(table)
    rows = [t for t in tokens if t.type == "tr_open"]
    cells = [t for t in tokens if t.type in ("th_open", "td_open")]
    assert len(rows) == 3 and len(cells) == 6
    assert _plain(_inline(tokens)[2]) == _one_line(name)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.text())
def test_any_text_is_literal_in_prose_and_in_a_cell(name: str) -> None:
    inline = _inline(MD.parse(f"Policy {mdtext(name)} ran.\n"))
    assert len(inline) == 1 and _plain(inline[0]) == f"Policy {_one_line(name)} ran.".rstrip()
    tokens = MD.parse(f"| a | b |\n|---|---|\n| {mdcell(name)} | z |\n")
    assert len([t for t in tokens if t.type == "td_open"]) == 2
    assert _plain(_inline(tokens)[2]) == _one_line(name)


def test_plain_names_are_left_as_they_are() -> None:
    for name in ("jury-only", "strict 24-hour host", "violent_news", "parler-like", "quick"):
        assert mdtext(name) == name == mdcell(name)


SAFE_FILTERS = {
    "mdtext",
    "mdcell",
    "number",
    "counted",
    "share",
    "hours",
    "ratio",
    "date",
    "urlencode",
}
"""Filters whose output is safe Markdown: the escaping pair, number formats
(``counted`` adds the template's own noun), dates and URL quoting. (``money``
is not: its currency is the policy's text.)"""


def _safe(node: jinja2.nodes.Node) -> bool:
    nodes = jinja2.nodes
    if isinstance(node, nodes.Const | nodes.TemplateData):
        return True
    if isinstance(node, nodes.Filter) and node.name == "join":
        # a list joined after each item was escaped: map("mdcell") | join(" | ")
        inner = node.node
        return (
            isinstance(inner, nodes.Filter)
            and inner.name == "map"
            and isinstance(inner.args[0], nodes.Const)
            and inner.args[0].value in ("mdtext", "mdcell")
        )
    if isinstance(node, nodes.Filter):
        return node.name in SAFE_FILTERS
    if isinstance(node, nodes.CondExpr):
        return _safe(node.expr1) and (node.expr2 is None or _safe(node.expr2))
    if isinstance(node, nodes.Or):
        return _safe(node.left) and _safe(node.right)
    if isinstance(node, nodes.Concat):
        return all(_safe(n) for n in node.nodes)
    return False


@pytest.mark.parametrize(
    "template",
    sorted(n for n in MARKDOWN_ENV.list_templates() if n.endswith(".md.j2")),
)
def test_every_value_a_markdown_template_shows_is_escaped_or_a_number(template: str) -> None:
    source = MARKDOWN_ENV.loader.get_source(MARKDOWN_ENV, template)[0]  # type: ignore[union-attr]
    tree = MARKDOWN_ENV.parse(source)
    unsafe = [
        f"line {node.lineno}: {{{{ {source.splitlines()[node.lineno - 1].strip()[:70]} }}}}"
        for output in tree.find_all(jinja2.nodes.Output)
        for node in output.nodes
        if not _safe(node)
    ]
    assert not unsafe, "pass these through mdtext or mdcell:\n" + "\n".join(unsafe)


@pytest.mark.parametrize(
    "template",
    sorted(n for n in MARKDOWN_ENV.list_templates() if n.endswith(".md.j2")),
)
def test_no_line_of_text_loses_its_line_break_to_a_tag(template: str) -> None:
    """With trim_blocks, a block tag eats the newline after it: a line of text
    ending in one runs into the next line (the 'Harmful exposure' bullet did),
    unless the tag ends in '+%}'."""
    source = MARKDOWN_ENV.loader.get_source(MARKDOWN_ENV, template)[0]  # type: ignore[union-attr]
    slips = [
        f"line {i}: ...{line[-50:]}"
        for i, line in enumerate(source.splitlines(), 1)
        if line.endswith("%}")
        and not line.endswith("+%}")
        and not re.fullmatch(r"\s*(\{%[^}]*%\})+", line)
    ]
    assert not slips, "end these tags in '+%}':\n" + "\n".join(slips)


# --- a run with hostile names -----------------------------------------------------------

EVIL = "<b>x</b> | [y](javascript:alert(1)) *em* $x^2$ $\\undefinedcmd$ [/x]\n# head"


def _renamed(relative: str, old: str, new: str, out: Path) -> Path:
    """A bundled file with one name changed (written as a JSON string, which YAML reads)."""
    text = (ROOT / relative).read_text().replace("mode: text", "mode: sampled")
    assert f"name: {old}" in text
    out.write_text(text.replace(f"name: {old}", f"name: {json.dumps(new)}", 1))
    return out


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`modsim run` on the quick world (scale mode) with every name it has made hostile."""
    tmp = tmp_path_factory.mktemp("hostile")
    world = _renamed("scenarios/quick.yaml", "quick", "S" + EVIL, tmp / "world.yaml")
    surge = f"name: {json.dumps('surge' + EVIL)}"
    world.write_text(world.read_text().replace("name: flashpoint", surge))
    policy = _renamed("policies/jury-only.yaml", "jury-only", "P" + EVIL, tmp / "policy.yaml")
    host = _renamed(
        "policies/host-strict-24h.yaml", "strict 24-hour host", "H" + EVIL, tmp / "h.yaml"
    )
    out = tmp / "run"
    args = ["run", str(world), "-p", str(policy), "-H", str(host), "--seed", "3"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    # the summary table's title names the policy as it is (no rich markup)
    assert "P<b>x</b> | [y](javascript:alert(1))" in result.output
    return out


def _tables_are_whole(tokens: list[Token]) -> int:
    """Every row of every table has as many cells as its header; the number of tables."""
    tables, widths, width = 0, [], 0
    for t in tokens:
        if t.type == "table_open":
            tables += 1
            widths = []
        elif t.type == "tr_open":
            width = 0
        elif t.type in ("th_open", "td_open"):
            width += 1
        elif t.type == "tr_close":
            widths.append(width)
        elif t.type == "table_close":
            assert len(set(widths)) == 1, widths
    return tables


def test_hostile_names_stay_text_in_the_run_report(hostile_run: Path) -> None:
    md = (hostile_run / "report.md").read_text()
    tokens = MD.parse(md)
    assert not [t for t in tokens if t.type.startswith(("html", "code", "fence"))]
    kinds = {c.type for t in _inline(tokens) for c in t.children or []}
    assert not kinds & {"link_open", "image", "em_open", "s_open"}
    assert [t.tag for t in tokens if t.type == "heading_open"].count("h1") == 1
    assert _tables_are_whole(tokens) >= 5
    title = _inline(tokens)[0]
    assert _plain(title) == f"modsim run: P{_one_line(EVIL)} on S{_one_line(EVIL)}"


def test_hostile_names_are_escaped_in_the_html_report(hostile_run: Path) -> None:
    page = (hostile_run / "report.html").read_text()
    assert "<b>x</b>" not in page and 'href="javascript' not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    # in the figures the surge and the enforcer are named literally, dollars and all
    assert "surge: surge&lt;b&gt;x&lt;/b&gt; | [y](javascript:alert(1)) *em* $x^2$" in page


# --- figures -----------------------------------------------------------------------------

DOLLARS = "a $\\undefinedcmd$ b $x^2$"
"""A label mathtext cannot parse (the figure would fail to draw), and one it
would render as math."""


def _figures(label: str) -> dict[str, str]:
    x = np.array([0.1, 1.0, 10.0, 100.0, 1000.0])
    y = np.linspace(0.0, 1.0, 5)
    series = [plots.Series(label, x, y), plots.Series(label + " 2", x, y)]
    point = plots.Point(label, 1.0, 0.5)
    return {
        "latency": plots.latency_cdf(series, [1.0, 24.0]),
        "time": plots.over_time(
            series,
            series,
            [plots.Band(label, 1.0, 2.0)],
            [plots.Mark(label, 1.5)],
            [f"2021-03-0{d}" for d in range(1, 6)],
        ),
        "frontier": plots.frontier([point], label, label),
        "bars": plots.bars([point], label, label),
        "sweep": plots.sweep(series, label, label),
    }


def test_figure_labels_are_never_mathtext() -> None:
    for name, svg in _figures(DOLLARS).items():
        assert DOLLARS in svg, name


def test_search_figures_take_hostile_policy_and_input_names() -> None:
    import pandas as pd

    from simulator.report.search_figures import draw, sensitivity_figure

    class Study:
        sensitivity = pd.DataFrame(
            {
                "metric": ["views_before_removal"] * 2,
                "policy": [DOLLARS, "base"],
                "input": ["jury.$x$", "jury.$x$"],
                "share": [0.6, 0.4],
            }
        )

    drawn = draw(lambda: sensitivity_figure(Study()), "sensitivity")  # type: ignore[arg-type]
    assert DOLLARS in drawn.svg and "jury.$x$" in drawn.svg


# --- the Markdown twin of any report -----------------------------------------------------


def test_a_reports_markdown_twin_escapes_every_field() -> None:
    report = Report(
        kind="compare",
        title="modsim compare: " + EVIL,
        summary=[EVIL + " meets 24 h.", "- " + EVIL],
        figures=[
            Figure("fig-a", "Figure " + EVIL, "Caption " + EVIL, "<svg/>", file="fig.png"),
            Figure("fig-b", "Inline " + EVIL, "Caption " + EVIL, "<svg/>"),
        ],
        tables=[
            Table("tab-a", "Table " + EVIL, ["policy " + EVIL, "n"], [[EVIL, "1"]], [False, True]),
            Table("tab-b", "Empty " + EVIL, ["x"], [], [False], note="Note " + EVIL),
        ],
        inputs=["Policy file " + EVIL],
        notes=["Note " + EVIL],
    )
    md = render_markdown(report, "my <report>.html", figure_prefix="../my results (1)/")
    tokens = MD.parse(md)
    assert not [t for t in tokens if t.type.startswith(("html", "code", "fence"))]
    assert [t.tag for t in tokens if t.type == "heading_open"].count("h1") == 1
    assert _tables_are_whole(tokens) == 1
    images = [c for t in _inline(tokens) for c in t.children or [] if c.type == "image"]
    assert len(images) == 1
    assert images[0].attrs["src"] == "../my%20results%20%281%29/fig.png"
    assert _plain(images[0]) == "Figure " + _one_line(EVIL)
    links = [c for t in _inline(tokens) for c in t.children or [] if c.type == "link_open"]
    assert links == []
    texts = [
        _plain(t)
        for t in _inline(tokens)
        if {c.type for c in t.children or []} <= {"text", "text_special"}
    ]
    assert f"{_one_line(EVIL)} meets 24 h." in texts
    assert "- " + _one_line(EVIL) in texts  # a summary line that looks like a list item
    assert "Note " + _one_line(EVIL) in texts


@pytest.fixture(scope="module")
def plain_md() -> str:
    """report.md of an ordinary run (the quick world in scale mode)."""
    sc = tweak(bundled("scenarios/quick.yaml"), content__texts__mode="sampled")
    result = simulator.simulate(sc, bundled("policies/jury-only.yaml"), seed=2)
    return render_run_md(result)


def test_each_plain_words_bullet_begins_its_own_line(plain_md: str) -> None:
    plain = plain_md.split("## In plain words", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"\S- \*\*", plain) is None, "a bullet ran into the line before it"
    bullets = re.findall(r"^- \*\*([^*]+?)\.\*\*", plain, re.M)
    assert bullets[:3] == ["Violating posts", "Harmful exposure", "Wrongful removals"]
    assert bullets[-1] == "Outcome"


# --- empty runs read as sentences --------------------------------------------------------


def _prose(md: str) -> list[str]:
    """The report's sentences: every line that is not a table row, heading or blank."""
    return [line for line in md.splitlines() if line and not line.startswith(("|", "#"))]


def _run_md(scenario: Any, policy: Any, hosts: list[Any]) -> str:
    """report.md of a run (the library renders what `modsim run` writes)."""
    return render_run_md(simulator.simulate(scenario, policy, hosts, seed=1))


def _no_gaps(md: str) -> None:
    """No sentence shows a placeholder where words belong."""
    for line in _prose(md):
        for gap in ("n/a", "median never", "p90 never", "misses (", "0 of 0", "()", " 1 notices"):
            assert gap not in line, f"{gap!r} in {line!r}"


@pytest.fixture(scope="module")
def quick_sampled_world() -> Any:
    return tweak(bundled("scenarios/quick.yaml"), content__texts__mode="sampled")


def test_a_run_with_no_posts_says_so(quick_sampled_world: Any) -> None:
    nobody = tweak(
        quick_sampled_world, population__daily_active_users=[{"date": "2021-03-01", "users": 0}]
    )
    md = _run_md(
        nobody,
        bundled("policies/jury-plus-ai.yaml"),
        [bundled("policies/host-strict-24h.yaml")],
    )
    _no_gaps(md)
    prose = "\n".join(_prose(md))
    for sentence in (
        "- Thresholds: jury-plus-ai could not be measured against any threshold: no post was made.",
        "- Takedown: no. The platform was not suspended (no notices were sent).",
        "- Trade-off: none to weigh, as no post was made.",
        "(7 days simulated), no post was made, so there was nothing to moderate.",
        "- **Violating posts.** There were none, so nothing had to come down.",
        "- **Wrongful removals.** None: no legitimate post was made.",
        "- **Jury.** No case reached this team;",
        "- **strict 24-hour host.** No notice; no strikes.",
        "No post violated the rules, so there is no time to detect or to remove to report.",
        "no juror voted.",
        "The prefilter removed no post. It sent no violating posts to review.",
        "0 USD over the run: 0 USD a day.",
        "Legitimate speech lost: none",
    ):
        assert sentence in prose
    # a team with no case has no waits (not "never")
    queues = md.split("## Review queues", 1)[1]
    (row,) = [r for r in queues.splitlines() if r.startswith("| jury |")]
    assert row.split("|")[8:11] == [" n/a ", " n/a ", " n/a "]


def test_a_run_with_posts_but_none_violating(quick_sampled_world: Any) -> None:
    shares = {"violent_threat": 0, "incitement": 0, "violent_news": 0.03}
    clean = tweak(
        quick_sampled_world,
        content__class_shares=dict(quick_sampled_world.content.class_shares or {}) | shares,
        surges=[],
    )
    md = _run_md(clean, bundled("policies/jury-only.yaml"), [])
    _no_gaps(md)
    prose = "\n".join(_prose(md))
    assert "could not be measured against any threshold: no post violated the rules." in prose
    assert "- Trade-off: no post violated the rules, so none was seen;" in prose
    assert "posts were made; none of them violated the rules" in prose
    assert "- **Harmful exposure.** None: no violating post was there to be seen." in prose


def test_a_run_that_removes_nothing(quick_sampled_world: Any) -> None:
    idle = tweak(bundled("policies/jury-only.yaml"), reports__enabled=False)
    md = _run_md(quick_sampled_world, idle, [])
    prose = "\n".join(_prose(md))
    assert re.search(
        r"- \*\*Violating posts\.\*\* Moderation removed none of the [\d,]+ violating posts: "
        r"every one stayed up until the run ended\.",
        prose,
    )
    assert "- **Jury.** No case reached this team;" in prose
    assert "- **Wrongful removals.** None of the " in prose
    assert "misses 1 h, 1 day" in prose and "Removed: 0.0% within 1 h; 0.0% within 1 day." in prose


def test_thresholds_no_post_was_old_enough_for(quick_sampled_world: Any) -> None:
    one_day = tweak(quick_sampled_world, days=1, surges=[])
    host = tweak(bundled("policies/host-strict-24h.yaml"), thresholds_hours=[48.0])
    result = simulator.simulate(one_day, bundled("policies/jury-only.yaml"), [host], seed=1)
    first = run_summary_sentences(result.summary)[0]
    assert first.endswith(
        ". Not measured: 1 day, 2 days, 7 days (no violating post was old enough)."
    )
    # Were every violating post younger than every threshold, none could be measured.
    s = copy.deepcopy(result.summary)
    for w in s["violating"]["within"]:
        w.update(eligible=0, removed_within=0, breaches=0, share=None)
    assert run_summary_sentences(s)[0] == (
        "Thresholds: jury-only could not be measured against any threshold: no violating post "
        "was made long enough before the run ended."
    )


def test_a_threshold_longer_than_the_run_is_named_as_not_measured(hostile_run: Path) -> None:
    md = (hostile_run / "report.md").read_text()
    (line,) = [x for x in md.splitlines() if x.startswith("- Thresholds:")]
    assert line.endswith("Not measured: 7 days (no violating post was old enough).")
    assert "n/a" not in line


def test_a_comparison_of_empty_runs_says_no_threshold_was_measured(
    tmp_path: Path, quick_sampled_world: Any
) -> None:
    from experiment_folders import write_experiment

    nobody = tweak(
        quick_sampled_world, population__daily_active_users=[{"date": "2021-03-01", "users": 0}]
    )
    out = tmp_path / "cmp"
    policies = [bundled("policies/jury-only.yaml"), bundled("policies/ai-first.yaml")]
    write_experiment(out, "compare", nobody, policies, [], 2)
    _, md_path = write_report(out)
    md = md_path.read_text()
    for name in ("jury-only", "ai-first"):
        assert f"- {name}: no threshold could be measured (no violating post was made" in md
    assert "meets no threshold" not in md


def test_hostile_names_and_paths_print_as_written_in_compare(tmp_path: Path) -> None:
    # rich read "[/x]" in a policy name or a folder name as markup: a MarkupError
    # after the comparison had finished, or a name printed with pieces missing.
    world = _renamed("scenarios/quick.yaml", "quick", "quick", tmp_path / "world.yaml")
    a = _renamed("policies/jury-only.yaml", "jury-only", "A [/x] [bold]b", tmp_path / "a.yaml")
    b = _renamed("policies/ai-first.yaml", "ai-first", "B[/r]", tmp_path / "b.yaml")
    out = tmp_path / "cmp [/y]"
    args = ["compare", str(world), "-p", str(a), "-p", str(b), "--seeds", "2", "-w", "1"]
    result = CliRunner().invoke(app, [*args, "--no-host", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "paired difference from A [/x] [bold]b" in text
    assert "B[/r]" in text  # a column header
    assert f"results in {out}" in text


# --- what a run will cost ------------------------------------------------------------------


def _flat_world(days: int, users: float, rate: float) -> Any:
    """The quick world in scale mode, with a constant population and no surge."""
    return tweak(
        bundled("scenarios/quick.yaml"),
        content__texts__mode="sampled",
        days=days,
        surges=[],
        population__daily_active_users=[{"date": "2021-03-01", "users": users}],
        population__posts_per_user_per_day=rate,
    )


def test_estimate_scales_with_days_and_rate() -> None:
    jury = bundled("policies/jury-only.yaml")
    base = simulator.estimate(_flat_world(10, 10_000, 0.5), jury)
    longer = simulator.estimate(_flat_world(20, 10_000, 0.5), jury)
    busier = simulator.estimate(_flat_world(10, 10_000, 1.0), jury)
    assert base.posts == pytest.approx(10_000 * 0.5 * 10)
    assert longer.posts == pytest.approx(2 * base.posts)
    assert busier.posts == pytest.approx(2 * base.posts)
    assert longer.violating == pytest.approx(2 * base.violating)
    # no classifier to train: CPU and the posts table grow in proportion
    for more in (longer, busier):
        assert more.table_rows == pytest.approx(2 * base.table_rows)
        assert more.table_bytes == pytest.approx(2 * base.table_bytes)
    assert longer.cpu_seconds == pytest.approx(2 * base.cpu_seconds)
    assert base.cpu_seconds < busier.cpu_seconds < longer.cpu_seconds  # days cost too
    # memory: a start, then a share per violating post and per day
    third = simulator.estimate(_flat_world(30, 10_000, 0.5), jury)
    grown = longer.memory_bytes - base.memory_bytes
    assert grown > 0 and third.memory_bytes - longer.memory_bytes == pytest.approx(grown)
    assert not base.large and base.to_dict()["posts"] == base.posts


def test_texts_and_their_scoring_are_what_costs() -> None:
    world = _flat_world(10, 10_000, 0.5)
    texts = tweak(world, content__texts__mode="text")
    jury, ai = bundled("policies/jury-only.yaml"), bundled("policies/jury-plus-ai.yaml")
    scale = simulator.estimate(world, jury)
    text = simulator.estimate(texts, jury)
    scored = simulator.estimate(texts, ai, workers=1)
    shared = simulator.estimate(texts, ai, workers=4)
    assert scale.cpu_seconds < text.cpu_seconds < scored.cpu_seconds
    assert scale.scored_texts == text.scored_texts == 0 and scored.scored_texts == text.posts
    assert shared.cpu_seconds == scored.cpu_seconds
    assert shared.wall_seconds == pytest.approx(scored.cpu_seconds - 0.75 * scored.scoring_seconds)
    assert scored.memory_bytes > text.memory_bytes > scale.memory_bytes
    # the posts table: every row, touched rows, or none
    every = simulator.estimate(world, jury, table="all")
    nothing = simulator.estimate(world, jury, table="none")
    assert every.table_rows == pytest.approx(every.posts)
    assert 0 < scale.table_rows < every.posts and nothing.table_rows == nothing.table_bytes == 0
    with pytest.raises(ValueError, match="table: expected all, touched or none, got 'some'"):
        simulator.estimate(world, jury, table="some")


def test_the_main_job_and_a_ten_year_text_run_are_large() -> None:
    main = simulator.estimate(ROOT / "scenarios/parler-like.yaml", ROOT / "policies/jury-only.yaml")
    assert main.large and main.posts > 100e6
    decade = tweak(bundled("scenarios/quick.yaml"), days=3650)  # text mode
    long = simulator.estimate(decade, bundled("policies/jury-plus-ai.yaml"), workers=2)
    assert long.large and long.cpu_seconds > 3600 and long.wall_seconds < long.cpu_seconds


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_estimate_agrees_with_a_real_run(seed: int, quick_sampled_world: Any) -> None:
    jury = bundled("policies/jury-only.yaml")
    work = simulator.estimate(quick_sampled_world, jury)
    rows: list[int] = []
    result = simulator.simulate(
        quick_sampled_world, jury, seed=seed, sink=lambda frame: rows.append(len(frame))
    )
    made, violating = result.summary["posts"]["created"], result.summary["violating"]["count"]
    # Poisson counts: within four standard deviations of the expectation
    assert abs(made - work.posts) < 4 * math.sqrt(work.posts)
    assert abs(violating - work.violating) < 4 * math.sqrt(work.violating)
    # the touched rows come from a model of reporting: within 40%
    assert sum(rows) == pytest.approx(work.table_rows, rel=0.4)


def test_a_replayed_logs_rows_are_its_posts(tmp_path: Path, quick_sampled_world: Any) -> None:
    from test_replay import replay_of

    n = 5000
    log = pd.DataFrame(
        {
            "created_at": np.linspace(0.0, 160.0, n),
            "text": [f"post number {i}, with some words in it" for i in range(n)],
        }
    )
    jury = bundled("policies/jury-only.yaml")
    log.to_parquet(tmp_path / "log.parquet", index=False)
    log.to_csv(tmp_path / "log.csv", index=False)
    for name, tolerance in (("log.parquet", 0), ("log.csv", 0.05)):
        replay = replay_of(quick_sampled_world, tmp_path / name, timestamps="hours")
        work = simulator.estimate(replay, jury)
        assert work.from_log and work.posts == pytest.approx(n, rel=tolerance)
        # no label column: every post's class is estimated from its text
        assert work.scored_texts == work.posts and work.scoring_seconds > 0


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, ["run", *args])


def test_dry_run_checks_the_inputs_and_prints_the_estimate(tmp_path: Path) -> None:
    out = tmp_path / "never"
    world, jury = str(ROOT / "scenarios/parler-like.yaml"), str(ROOT / "policies/jury-only.yaml")
    result = _run(world, "-p", jury, "--dry-run", "--quiet", "--out", str(out))
    assert result.exit_code == 0, result.output
    work = simulator.estimate(world, jury)
    text = result.output
    assert f"dry run (nothing simulated or written): about {number(work.posts)} posts" in text
    assert "over 75 days (expected from the scenario's population)" in text
    for figure in ("CPU time       about", "memory         about", "posts.parquet  about"):
        assert figure in text
    assert not out.exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "policies/jury-only.yaml").read_text() + "juryy: {}\n")
    refused = _run(world, "-p", str(bad), "--dry-run", "--out", str(out))
    assert refused.exit_code == 2 and "juryy" in refused.output and not out.exists()


def test_a_large_run_says_what_it_will_cost_before_it_starts(tmp_path: Path) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("not a folder")
    world, jury = str(ROOT / "scenarios/parler-like.yaml"), str(ROOT / "policies/jury-only.yaml")
    # The results folder is refused, so nothing runs; the estimate came first.
    result = _run(world, "-p", jury, "--no-host", "--out", str(taken))
    assert result.exit_code == 2
    assert "a large run: about" in result.output
    assert result.output.index("a large run") < result.output.index("error:")


def test_a_small_run_starts_without_an_estimate(tmp_path: Path) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("not a folder")
    result = _run(str(ROOT / "scenarios/quick.yaml"), "--no-host", "--out", str(taken))
    assert result.exit_code == 2 and "error:" in result.output
    assert "large run" not in result.output and "CPU time" not in result.output
