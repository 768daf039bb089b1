"""Platform accounts, posts, publications and queue slots: the calendar and getting posts out.

Owns approval of a post version, the dispatcher and `publish`, rate limits, takedown tasks, connectors.
Handles compliance's and content's signals (`receivers.py`); delivers through notifications.
"""
