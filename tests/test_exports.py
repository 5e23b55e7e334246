"""`bench leaderboard --format csv|json|latex`: the same numbers as the markdown, in other shapes."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from conftest import bench_cli

from bench.report.runs_frame import load_runs


@pytest.mark.parametrize("fmt", ["csv", "json", "latex"])
def test_each_format_is_written_where_asked(fixture_runs, tmp_path, fmt):
    out = tmp_path / f"board.{fmt}"
    result = bench_cli("leaderboard", "--runs-dir", str(fixture_runs), "--format", fmt, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.exists() and f"({len(load_runs(fixture_runs))} finished runs, {fmt})" in result.stdout


def test_csv_and_json_hold_the_records_numbers(fixture_runs):
    frame = load_runs(fixture_runs)
    csv = pd.read_csv(io.StringIO(bench_cli("leaderboard", "--runs-dir", str(fixture_runs), "--format", "csv",
                                            "--out", "-").stdout))
    rows = json.loads(bench_cli("leaderboard", "--runs-dir", str(fixture_runs), "--format", "json",
                                "--out", "-").stdout)
    assert len(csv) == len(rows) == frame["group"].nunique()
    for _, row in csv.iterrows():
        runs = frame[frame["group"] == row["config"]]
        assert row["seeds"] == len(runs)
        assert row["test f1_macro@tuned mean"] == pytest.approx(runs["test:f1_macro@tuned"].mean(), abs=1e-6,
                                                                nan_ok=True)  # nan: a split without a test role
        if len(runs) > 1:
            assert row["val map_macro std"] == pytest.approx(runs["val:map_macro"].std(ddof=1), abs=1e-6)
    by_config = {r["config"]: r for r in rows}
    assert all(by_config[c]["seeds"] == n for c, n in frame.groupby("group").size().items())


def test_latex_is_booktabs_and_parses(fixture_runs):
    latexwalker = pytest.importorskip("pylatexenc.latexwalker")
    text = bench_cli("leaderboard", "--runs-dir", str(fixture_runs), "--format", "latex", "--out", "-").stdout
    nodes, _, _ = latexwalker.LatexWalker(text, tolerant_parsing=False).get_latex_nodes()
    tables = [n for n in nodes if n.isNodeType(latexwalker.LatexEnvironmentNode) and n.environmentname == "table"]
    assert len(tables) == load_runs(fixture_runs)[["dataset_fp", "split_fp"]].drop_duplicates().shape[0]
    for block in text.split("\\begin{tabular}")[1:]:
        spec, body = block.split("}", 1)[0].lstrip("{"), block.split("\\end{tabular}")[0]
        assert "\\toprule" in body and "\\midrule" in body and "\\bottomrule" in body
        rows = [r for r in body.split("\\\\")[:-1] if "&" in r]
        assert rows and all(r.count("&") == len(spec) - 1 for r in rows)  # every row fills every column
    assert "$\\pm$" in text and "mix\\_" not in text or "\\_" in text


def test_an_unknown_format_is_one_line_exit_2(fixture_runs):
    result = bench_cli("leaderboard", "--runs-dir", str(fixture_runs), "--format", "xlsx")
    assert result.returncode == 2 and "xlsx" in result.stderr and len(result.stderr.strip().splitlines()) == 1
