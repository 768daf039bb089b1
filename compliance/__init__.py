"""Performers, identity checks, consents, takedowns and the append-only audit log.

Owns the gate (`gate.py`, pure), hard blocks, encryption of secrets and documents, and legal deadlines.
Never imports content or scheduling: they build the facts, and compliance sends signals upwards.
"""
