"""What the inbox tells the rest of itself and the apps above it, sent inside the writing transaction."""

from django.dispatch import Signal

# A message from the platform was recorded for the first time: `message`, `conversation`.
message_received = Signal()
# A message to a fan was queued (a person, a script, an AI draft, an automation): `message`.
message_queued = Signal()
# The platform took a queued message (its send status became `sent`): `message`. Sent by the delivery.
message_sent = Signal()
