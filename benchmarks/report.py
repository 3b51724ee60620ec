"""Render BENCHMARKS.md from the JSON files under benchmarks/results/.

    python benchmarks/report.py

Each benchmark gets a section: what was run, the command, machine and date, and its table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS  # noqa: E402
from leanspike.tables import format_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _ann_digits(doc: dict) -> str:
    rows = [[r["arch"], r["activation"], r["epochs"], r["seeds"], f"{r['accuracy_median']:.4f}",
             f"{r['accuracy_min']:.4f}-{r['accuracy_max']:.4f}",
             f"{r['train_seconds_median']:.1f}"] for r in doc["records"]]
    table = format_table(["model", "activation", "epochs", "seeds", "accuracy (median)",
                          "range", "train s (median)"], rows, markdown=True)
    return ("ANN baselines on scikit-learn digits (fixed stratified split, 1347 train / 450 "
            "test), trained with the CLI defaults (SGD, lr 0.1, momentum 0.9, cosine).\n\n"
            + table)


RENDERERS = {"ann_digits": ("ANN baselines (digits)", _ann_digits)}


def render() -> str:
    parts = ["# Benchmarks\n",
             "Every figure here is produced by a script under `benchmarks/`, which writes JSON "
             "to `benchmarks/results/`; `python benchmarks/report.py` renders this file from "
             "those JSON files. Medians over seeds; the machine and date are in each section.\n"]
    for path in sorted(RESULTS.glob("*.json")):
        doc = json.loads(path.read_text())
        title, render_fn = RENDERERS.get(doc["benchmark"], (doc["benchmark"], None))
        m = doc["machine"]
        where = (f"{m['cpu']}, {m['cores']} cores, {m['torch_threads']} torch threads"
                 + (f", GPU {m['gpu']}" if m.get("gpu") else ", no GPU")
                 + f"; Python {m['python']}, torch {m['torch']}")
        parts.append(f"## {title}\n\nCommand: `{doc['command']}`  \nMeasured {doc['date']} "
                     f"on {where}.\n")
        if render_fn is not None:
            parts.append(render_fn(doc) + "\n")
    return "\n".join(parts)


def main() -> None:
    (ROOT / "BENCHMARKS.md").write_text(render())
    print(f"wrote {ROOT / 'BENCHMARKS.md'}")


if __name__ == "__main__":
    main()
