"""Where the tests find the project's files, wherever pytest is started from."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURE_KB = REPO / "tests" / "fixtures" / "kb"
