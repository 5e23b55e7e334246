"""Build the shipped fixed protocol `hpa2018-v1` from the real Kaggle HPA 2018 train.csv.

    python tools/make_hpa2018_v1.py ../shared/data/hpa/train.csv

Multilabel-stratified (iterative stratification) 80/10/10 train/val/test of all 31,072 labelled
ids with split seed 0, written as bench/protocols/hpa2018-v1.csv.gz (`id,role`, sorted by id; the
SHA-256 of the uncompressed text is the split fingerprint) and bench/protocols/hpa2018-v1.json
(fingerprint, source, per-class positive counts per role). It refuses to write a protocol in which
any class lacks positives in val or test.
"""

import gzip
import hashlib
import json
import sys
from pathlib import Path

from bench.data.kaggle import read_labels_csv
from bench.data.labels import CLASS_NAMES
from bench.data.splits import SplitConfig, make_split, positives_per_role

source = Path(sys.argv[1])
ids, labels = read_labels_csv(source)
split = make_split(ids, labels, SplitConfig(name="stratified", seed=0, val_fraction=0.1, test_fraction=0.1))
positives = positives_per_role(split, labels)
for role in ("val", "test"):
    missing = [CLASS_NAMES[c] for c, n in enumerate(positives[role]) if n == 0]
    if missing:
        sys.exit(f"{role} lacks positives for {missing}; not writing")
out = Path(__file__).resolve().parents[1] / "bench" / "protocols"
text = split.manifest
with gzip.GzipFile(out / "hpa2018-v1.csv.gz", "wb", mtime=0) as fh:  # mtime=0: reproducible bytes
    fh.write(text.encode())
meta = {
    "name": "hpa2018-v1",
    "fingerprint": hashlib.sha256(text.encode()).hexdigest(),
    "source": {"file": "Kaggle HPA 2018 train.csv", "sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
               "rows": len(ids)},
    "method": "iterative-stratification MultilabelStratifiedShuffleSplit, 80/10/10, seed 0 (bench.protocol)",
    "counts": split.counts(),
    "positives": {role: {CLASS_NAMES[c]: int(n) for c, n in enumerate(positives[role])}
                  for role in ("train", "val", "test")},
}
(out / "hpa2018-v1.json").write_text(json.dumps(meta, indent=2) + "\n")
print(json.dumps({k: meta[k] for k in ("fingerprint", "counts")}))
