"""Write the joint label-set counts of the real Kaggle HPA 2018 train.csv as a CSV (the embedded dataset's labels).

    python tools/make_label_stats.py ../shared/data/hpa/train.csv bench/datasets/hpa_label_sets.csv

Output: a `# source_sha256: <hex>` line, then `count,labels` rows (labels = space-separated class
ids), one per distinct label set, most frequent first. tests/test_synthetic_cells.py checks the
file's SHA-256 and the counts against the real train.csv.
"""

import collections
import hashlib
import sys
from pathlib import Path

import pandas as pd


def label_set_csv(train_csv: Path) -> str:
    digest = hashlib.sha256(Path(train_csv).read_bytes()).hexdigest()
    frame = pd.read_csv(train_csv)
    sets = collections.Counter(" ".join(sorted(t.split(), key=int)) for t in frame["Target"])
    rows = sorted(sets.items(), key=lambda kv: (-kv[1], [int(t) for t in kv[0].split()]))
    return f"# source_sha256: {digest}\ncount,labels\n" + "".join(f"{count},{labels}\n" for labels, count in rows)


if __name__ == "__main__":
    Path(sys.argv[2]).write_text(label_set_csv(Path(sys.argv[1])), encoding="utf-8")
