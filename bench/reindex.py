#!/usr/bin/env python3
"""Reindex time for the full knowledge base (cold embedding cache) and for a change of
one paraphrase, and the peak memory of the process.

    .venv/bin/python bench/reindex.py

Prints the figures and writes bench/results/reindex.json.
"""

import sys
from pathlib import Path

from bot.cli import main

OUT = Path(__file__).parent / "results" / "reindex.json"

if __name__ == "__main__":
    OUT.parent.mkdir(exist_ok=True)
    sys.exit(main(["bench", "--skip-throughput", "--reindex", *sys.argv[1:], "--output", str(OUT)]))
