"""Values the e2e fixtures configure and the tests check against."""

from pathlib import Path

FIXTURE_KB = Path(__file__).resolve().parents[1] / "fixtures" / "kb"
STAFF_ID = 900
SALT = "e2e-test-salt"
CONTACT = "the help desk of the test resource centre"
WEBHOOK_SECRET = "right-secret_123"
