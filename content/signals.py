"""Signals content sends upwards; the apps above listen (content never imports them).

`fan_content_changed`: something about these assets or collections that reaches fans changed (a
review decision, the rating or title, the items of a collection). Scheduling withdraws the approval
of every post that carries them and no longer matches what a person approved. Sent after commit, with
`asset_ids`, `collection_ids` and the `actor` who made the change.

`generation_failed`: a generation job failed (`job_id`).
"""

from django.db import transaction
from django.dispatch import Signal

fan_content_changed = Signal()
generation_failed = Signal()


def announce_generation_failed(job_id: int) -> None:
    """`generation_failed(job_id)`: a generation job ended in failure. Sent after commit, so a
    rolled-back failure tells nobody; the notifications app tells the people in charge."""
    transaction.on_commit(lambda: generation_failed.send(sender="content.GenerationJob", job_id=job_id))
