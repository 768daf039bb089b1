"""Who may see what: users, creators, memberships (user × creator × role) and scoped API keys.

Owns tenancy (`tenancy.restrict`), the audit context, and the admin and API base classes that apply it.
Imports only `core`; every other app builds on it.
"""
