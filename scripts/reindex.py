#!/usr/bin/env python3
"""Ops entry point: validate knowledge/, build a new index version, switch to it.

Same as `migrant-bot reindex`; exits 1 (and changes nothing) when the knowledge base has
errors. Configuration comes from the environment (KB_DIR, DATA_DIR, EMBED_BACKEND, ...).
"""

import subprocess
import sys

if __name__ == "__main__":
    # The command itself, so that its options, messages and exit codes are the same.
    sys.exit(subprocess.call([sys.executable, "-m", "bot.cli", "reindex", *sys.argv[1:]]))
