"""Signals content sends upwards; the apps above listen (content never imports them).

`fan_content_changed`: something about these assets or collections that reaches fans changed (a
review decision, the rating or title, the items of a collection). Scheduling withdraws the approval
of every post that carries them and no longer matches what a person approved. Sent after commit, with
`asset_ids`, `collection_ids` and the `actor` who made the change.
"""

from django.dispatch import Signal

fan_content_changed = Signal()
