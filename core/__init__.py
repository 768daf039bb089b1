"""Shared infrastructure that knows no domain: outbound HTTP, API plumbing, helpers every app uses.

Apps import from `core`; `core` imports no app.
"""
