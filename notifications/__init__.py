"""What staff must hear about (failures, unknown outcomes, re-auth, alerts) and its delivery.

Owns `Notification`, email to the people in charge and signed webhooks; `notify()` is the one entry point.
Sits beside scheduling, below it: scheduling and analytics deliver through it.
"""
