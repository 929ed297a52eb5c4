"""The examples notebook runs as written: its code cells, in order, from the
repository's root, as a kernel would run them."""

from __future__ import annotations

import json
import os

import matplotlib

matplotlib.use("Agg")

import pytest
from helpers import ROOT

NOTEBOOK = ROOT / "examples" / "compare-policies.ipynb"


def test_the_examples_notebook_runs_and_plots_from_the_returned_tables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nb = json.loads(NOTEBOOK.read_text())
    assert nb["nbformat"] == 4
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] for c in cells), "commit the notebook with outputs cleared"
    monkeypatch.chdir(ROOT)
    monkeypatch.setitem(os.environ, "MPLBACKEND", "Agg")
    namespace: dict[str, object] = {"__name__": "__notebook__"}
    for cell in cells:
        exec(compile("".join(cell["source"]), str(NOTEBOOK), "exec"), namespace)
    cmp = namespace["cmp"]
    table = namespace["table"]
    fig = namespace["fig"]
    policies = {"jury-only", "jury-plus-card-typical"}
    assert set(cmp.summary["policy"]) == policies  # type: ignore[attr-defined]
    assert set(table.columns) == policies  # type: ignore[attr-defined]
    left, right = fig.axes  # type: ignore[attr-defined]
    # one point per policy and seed, and one bar per policy, from the returned tables
    assert sum(len(c.get_offsets()) for c in left.collections) == 2 * 3
    assert len(right.patches) == 2
    import matplotlib.pyplot as plt

    plt.close("all")
