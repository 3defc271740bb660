"""The options of the benchmarks, shared by `migrant-bot bench` and the scripts here.

Light on purpose (argparse only): the CLI reads it to build its parser on every start,
without loading the model or FAISS.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `migrant-bot bench` and of the scripts in bench/."""
    p.add_argument("--quick", action="store_true", help="8 users x 4 messages")
    p.add_argument("--users", type=int, default=16, help="simulated users (default 16)")
    p.add_argument("--messages", type=int, default=8, help="messages per user (default 8)")
    p.add_argument("--reindex", action="store_true", help="also time a full and a 1-entry reindex")
    p.add_argument("--soak", type=int, metavar="N", help="also push N updates through one worker")
    p.add_argument("--skip-throughput", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true")
    p.add_argument("--output", "-o", help="also write the JSON to this file")
