"""Analytics admin, one module per area so each stays readable."""

from analytics import admin_ingest, admin_main, admin_transactions  # noqa: F401 — registers the admins
