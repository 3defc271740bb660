#!/usr/bin/env python3
"""Answers per second and latency through the real dispatcher: project vs a naive bot.

    .venv/bin/python bench/throughput.py [--quick] [--users N] [--messages M]

Prints a table and writes bench/results/throughput.json. Same as `migrant-bot bench`.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: bench/ and tests/ live beside bot/

from bench.harness import main  # noqa: E402

OUT = ROOT / "bench" / "results" / "throughput.json"

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], output=OUT))
