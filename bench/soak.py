#!/usr/bin/env python3
"""A soak: N updates (default 50,000) through one worker, memory sampled as it goes.

    .venv/bin/python bench/soak.py [N]

Prints the figures (RSS after the first tenth and at the end, growth) and writes
bench/results/soak.json.
"""

import sys
from pathlib import Path

from bot.cli import main

OUT = Path(__file__).parent / "results" / "soak.json"

if __name__ == "__main__":
    OUT.parent.mkdir(exist_ok=True)
    n = sys.argv[1] if len(sys.argv) > 1 else "50000"
    sys.exit(main(["bench", "--skip-throughput", "--soak", n, "--output", str(OUT)]))
