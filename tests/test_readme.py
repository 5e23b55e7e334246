"""The README's two set-up commands are what CI runs, and the README's main command works."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, bench_cli


def readme_block(marker: str) -> str:
    """The command in the ```bash block that follows `<!-- marker -->` in README.md."""
    text = (REPO / "README.md").read_text()
    match = re.search(rf"<!-- {marker} -->\s*```bash\n(.*?)\n```", text, re.S)
    assert match, f"README.md has no bash block after <!-- {marker} -->"
    return match.group(1).strip()


def test_ci_runs_the_readme_install_and_test_commands():
    install, tests = readme_block("install-and-run"), readme_block("test-command")
    ci = (REPO / ".ci" / "run").read_text()
    assert install in ci  # CI installs and runs the main job exactly as the README says, then tests
    assert ci.index(install) < ci.index(tests)


def _readme_run() -> Path | None:
    """The finished run of the README's main command in the repository's own runs folder, if it has run here."""
    from bench import config
    from bench.records import is_finished

    main_command = readme_block("install-and-run").rsplit("&&", 1)[1].split()
    assert main_command[:2] == ["bench", "run"]
    dry = bench_cli(*main_command[1:], "--dry-run")
    assert dry.returncode == 0, dry.stderr
    wanted = config.resolve(yaml.safe_load(dry.stdout)).hash()
    for record in sorted((REPO / "runs").glob("*/record.json")):
        if is_finished(record.parent) and json.loads(record.read_text()).get("config_hash") == wanted:
            return record.parent
    return None


def test_readme_main_command_learns_but_not_trivially():
    """The main command's own run, where it costs least: `.ci/run` runs the README's install-and-run line whole
    (the real default run, 10 epochs on 3,000 images) before the suite, and this checks the run it left in ./runs.
    A checkout where it has not run skips, saying so."""
    run_dir = _readme_run()
    if run_dir is None:
        pytest.skip("the README's main command has not run in this checkout (CI runs it before the tests); "
                    "run `bench run` here to check it")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    labels = pd.read_csv(run_dir / "predictions_test.csv")["Target"].fillna("").str.split()
    prevalence = np.array([sum(str(c) in row for row in labels) for c in range(28)]) / len(labels)
    chance = prevalence.mean()  # expected macro F1 of guessing each class at its own rate
    test = metrics["test"]
    assert test["f1_macro@tuned"] > 3 * chance and test["f1_macro@tuned"] < 0.9, (test, chance)
    assert 0.3 < test["f1_micro@tuned"] < 0.95
    per_class = pd.read_csv(run_dir / "per_class.csv")
    common, rare = per_class[prevalence > 0.10], per_class[(prevalence > 0) & (prevalence < 0.02)]
    assert rare["test_f1@tuned"].mean() < common["test_f1@tuned"].mean()  # rare classes stay hard


def test_readme_and_docs_link_only_to_files_in_the_repository():
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = page.read_text()
        assert "../shared" not in text, page.name
        for target in re.findall(r"\]\(([^)#\s]+)[^)]*\)", text):
            if target.startswith(("http://", "https://")):
                continue
            assert (page.parent / target).resolve().exists(), f"{page.name} links {target}, which does not exist"
            assert REPO in (page.parent / target).resolve().parents or (page.parent / target).resolve() == REPO
