"""Metrics, fans, subscriptions, money (integer minor units), offers and tracking links.

Owns ingestion (webhooks, imports, metric sync through `ingest`), rollups, reports, alerts, the dashboard.
The top domain app: it may read every app below it; none reads it.
"""
