"""The wheel ships exactly the project's packages and data files, with its license."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest
from conftest import REPO


@pytest.mark.slow
def test_the_wheel_holds_the_three_packages_their_data_and_the_license(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                             "--wheel-dir", str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("synthloc_bench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"bench", "baselines", "generators"}  # not benchmarks/, tests/ or tools/
    for data in ("bench/data/protocols/hpa2018-v1.csv.gz", "bench/datasets/hpa_label_sets.csv",
                 "bench/config/presets/controlled.yaml", "bench/config/presets/paper/mixrep-resnet18.yaml"):
        assert data in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)


def test_citation_changelog_and_version_agree():
    import yaml

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    from bench import __version__

    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and str(citation["version"]) == version == __version__
    assert {"title", "authors", "message", "license"} <= set(citation)
    paper = citation["references"][0]
    assert "2505.22926" in paper["url"] and [a["family-names"] for a in paper["authors"]] == ["Lin", "Cao"]
    assert f"({version})" in (REPO / "CHANGELOG.md").read_text()
    result = subprocess.run([sys.executable, "-m", "bench", "--version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and version in result.stdout
