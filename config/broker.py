"""A worker that loses Redis reconnects instead of dying.

When the broker connection breaks, Celery's consumer first collects the connection (which detaches
the transport from its `Connection`) and then closes it. Closing the channel a second time gives
back the messages the worker holds unacknowledged (its wake-up countdowns, prefetched tasks), and
kombu's Redis transport then builds a new client from a transport that has no `Connection` any more:
an `AttributeError` that Celery treats as unrecoverable, so the worker exits (seen when Redis is
killed under load; the worker stayed down until a supervisor restarted it). A transport without a
connection cannot reach Redis anyway, and the messages are not lost by skipping the give-back: they
stay in Redis's unacked set (restored after the visibility timeout) or were lost with a Redis that
restarted empty, which the dispatcher and the reaper heal (`scheduling.wakeups`).
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)

_restore_unacked = kombu_redis.QoS.restore_unacked


def _restore_unacked_while_connected(qos: Any, client: Any = None) -> Any:
    if client is None and qos.channel.connection.client is None:
        log.warning("The broker connection is gone: %d unacknowledged message(s) left to the visibility timeout",
                    len(qos._delivered))
        qos._delivered.clear()
        return None
    return _restore_unacked(qos, client)


def install() -> None:
    """Idempotent: called when the Celery app is created."""
    if kombu_redis.QoS.restore_unacked is not _restore_unacked_while_connected:
        kombu_redis.QoS.restore_unacked = _restore_unacked_while_connected  # type: ignore[method-assign]
