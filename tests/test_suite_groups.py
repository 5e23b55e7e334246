"""The suite's own machinery: modules marked `xdist_group` run on one worker, so their fixtures are built once.

A pytest/pytest-xdist pair that drops the groups still passes every test, only slower (each worker builds
every module fixture again), so the grouping itself is checked here.
"""

from __future__ import annotations

import subprocess
import sys


def test_an_xdist_group_runs_on_one_worker(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_grouped.py").write_text(
        "import os\nimport pytest\n\npytestmark = pytest.mark.xdist_group('one')\n\n"
        "@pytest.mark.parametrize('i', range(6))\n"
        "def test_worker(i):\n"
        "    with open(f'worker-{i}', 'w') as out:\n"
        "        out.write(os.environ['PYTEST_XDIST_WORKER'])\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-p", "no:randomly",
                             "-p", "no:cacheprovider", "-q", "test_grouped.py"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:]
    workers = {(tmp_path / f"worker-{i}").read_text() for i in range(6)}
    assert len(workers) == 1, f"one xdist_group ran on {sorted(workers)}: pin pytest as pyproject.toml says"
