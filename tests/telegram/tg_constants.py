"""Values the e2e fixtures configure and the tests check against."""

STAFF_ID = 900
SALT = "e2e-test-salt"
CONTACT = "the help desk of the test resource centre"
WEBHOOK_SECRET = "right-secret_123"
STAFF_CHAT = -1001234567890  # the staff group of the handoff tests
OPERATOR = "Test Resource Centre"
