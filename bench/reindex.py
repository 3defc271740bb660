#!/usr/bin/env python3
"""Reindex time for the full knowledge base (cold embedding cache) and for a change of
one paraphrase, and the peak memory of the process.

    .venv/bin/python bench/reindex.py

Prints the figures and writes bench/results/reindex.json.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: bench/ and tests/ live beside bot/

from bench.harness import main  # noqa: E402

OUT = ROOT / "bench" / "results" / "reindex.json"

if __name__ == "__main__":
    sys.exit(main(["--skip-throughput", "--reindex", *sys.argv[1:]], output=OUT))
