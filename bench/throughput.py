#!/usr/bin/env python3
"""Answers per second and latency through the real dispatcher: project vs a naive bot.

    .venv/bin/python bench/throughput.py [--quick] [--users N] [--messages M]

Prints a table and writes bench/results/throughput.json. Same as `migrant-bot bench`.
"""

import sys
from pathlib import Path

from bot.cli import main

OUT = Path(__file__).parent / "results" / "throughput.json"

if __name__ == "__main__":
    OUT.parent.mkdir(exist_ok=True)
    sys.exit(main(["bench", *sys.argv[1:], "--output", str(OUT)]))
