"""Store each test's measured time (setup + call + teardown) for the suite's longest-first order.

    python -m pytest -ra --junitxml=/tmp/suite.xml && python tools/store_test_durations.py /tmp/suite.xml

Writes tests/durations.json (test id -> seconds, tests of at least 0.5 s). `tests/conftest.py` hands the
costliest work out first (a pytest-xdist group counts as the sum of its tests), so the long tests do not
start last and leave one worker running alone at the end. Refresh it when tests are added or change cost;
a missing or stale entry only makes the order less good, never a test wrong.
"""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "durations.json"
SHORTEST = 0.5  # seconds; shorter tests are counted at the default in conftest.py


def test_id(case: ET.Element) -> str:
    """pytest's node id from a junit testcase: classname `tests.test_x.TestY` -> `tests/test_x.py::TestY`."""
    parts = case.get("classname", "").split(".")
    module = next(i for i, part in enumerate(parts) if part.startswith("test_"))
    name = re.sub(r"@[\w-]+$", "", case.get("name"))  # pytest-xdist's `@group` suffix
    return "/".join(parts[:module + 1]) + ".py" + "".join(f"::{p}" for p in parts[module + 1:]) + "::" + name


def main(path: str) -> None:
    cases = ET.parse(path).getroot().iter("testcase")
    durations = {test_id(case): round(float(case.get("time", 0)), 1) for case in cases}
    kept = dict(sorted((k, v) for k, v in durations.items() if v >= SHORTEST))
    tmp = OUT.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(kept, indent=0) + "\n")
    tmp.replace(OUT)
    print(f"{OUT}: {len(kept)} of {len(durations)} tests, {sum(durations.values()):.0f} s in all")


if __name__ == "__main__":
    main(sys.argv[1])
