"""Conversations with fans: the chatter's inbox, messages in and out, scripts, AI drafts, shifts.

Owns `Conversation`, `Message`, `Script`, `AIDraft`, `FanNote`, `Shift`, `ReportingEvent`, the send gate
for messages and the chat channels (`channels/`, one module per platform). Sits above analytics: fans and
their spend are read from there, purchases recorded through `analytics.ingest`.
"""
