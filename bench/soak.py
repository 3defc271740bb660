#!/usr/bin/env python3
"""A soak: N updates (default 50,000) through one worker, memory sampled as it goes.

    .venv/bin/python bench/soak.py [N]

Prints the figures (RSS after the first tenth and at the end, growth) and writes
bench/results/soak.json.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: bench/ and tests/ live beside bot/

from bench.harness import main  # noqa: E402

OUT = ROOT / "bench" / "results" / "soak.json"

if __name__ == "__main__":
    sys.exit(
        main(
            [
                "--skip-throughput",
                "--soak",
                sys.argv[1] if len(sys.argv) > 1 else "50000",
                *sys.argv[2:],
            ],
            output=OUT,
        )
    )
