"""The inbox's statuses as sentences: where a conversation stands and what became of a message."""

from __future__ import annotations

from core import wording
from inbox.models import Conversation, Message

CONVERSATION_STATUS = wording.register(Conversation.Status, {
    "open": "Open: the fan waits for an answer, or may",
    "pending": "Answered: waiting on the fan",
    "snoozed": "Snoozed until a set time, or until the fan writes",
    "closed": "Closed: reopens when the fan writes",
})

SEND_STATUS = wording.register(Message.SendStatus, {
    "received": "Received from the platform",
    "queued": "Queued: the worker sends it next",
    "sending": "Being sent now",
    "sent": "Sent: the platform took it",
    "failed": "Failed: the platform refused it, not sent",
    "unknown": "Outcome unknown — check on the platform before sending again",
})
