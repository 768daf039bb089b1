"""A worker that loses Redis reconnects instead of dying.

Two ways kombu's Redis transport let a lost connection stop the worker, each guarded below: giving back
the unacknowledged messages, and acknowledging (or rejecting) a task that finished after the break.

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
_ack = kombu_redis.QoS.ack
_reject = kombu_redis.QoS.reject


def _gone(qos: Any) -> bool:
    """The channel's transport was collected (no `Connection`) or the channel was closed (no transport)."""
    transport = getattr(qos.channel, "connection", None)
    return transport is None or getattr(transport, "client", None) is None


def _restore_unacked_while_connected(qos: Any, client: Any = None) -> Any:
    if client is None and _gone(qos):
        log.warning("The broker connection is gone: %d unacknowledged message(s) left to the visibility timeout",
                    len(qos._delivered))
        qos._delivered.clear()
        return None
    return _restore_unacked(qos, client)


def _ack_while_connected(qos: Any, delivery_tag: Any) -> Any:
    # A task that finishes after the connection broke acknowledges on the old channel (kombu's hub runs
    # the ack as a promise): building a client there raised AttributeError ('client') and Celery stopped
    # the worker. The message stays in Redis's unacked set and comes back after the visibility timeout
    # (or went with a Redis restarted empty); either way its task is idempotent and the sweeps heal it.
    if _gone(qos):
        log.warning("The broker connection is gone: the acknowledgement of %s is left to the visibility timeout",
                    delivery_tag)
        qos._delivered.pop(delivery_tag, None)
        return None
    return _ack(qos, delivery_tag)


def _reject_while_connected(qos: Any, delivery_tag: Any, requeue: bool = False) -> Any:
    if _gone(qos):
        log.warning("The broker connection is gone: the rejection of %s is left to the visibility timeout",
                    delivery_tag)
        qos._delivered.pop(delivery_tag, None)
        return None
    return _reject(qos, delivery_tag, requeue=requeue)


def install() -> None:
    """Idempotent: called when the Celery app is created."""
    if kombu_redis.QoS.restore_unacked is not _restore_unacked_while_connected:
        kombu_redis.QoS.restore_unacked = _restore_unacked_while_connected  # type: ignore[method-assign]
    if kombu_redis.QoS.ack is not _ack_while_connected:
        kombu_redis.QoS.ack = _ack_while_connected  # type: ignore[method-assign]
    if kombu_redis.QoS.reject is not _reject_while_connected:
        kombu_redis.QoS.reject = _reject_while_connected  # type: ignore[method-assign]
