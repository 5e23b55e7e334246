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
