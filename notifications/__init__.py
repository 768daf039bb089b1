"""What staff must hear about (failures, unknown outcomes, re-auth, alerts) and its delivery.

Owns `Notification`, each person's copy (the bell), email and signed webhooks; `notify()` is the entry point.
Sits beside scheduling, below it: scheduling and analytics deliver through it.
"""
