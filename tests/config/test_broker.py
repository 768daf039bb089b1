"""A worker whose broker connection breaks must reconnect, not die (config.broker)."""

from __future__ import annotations

import pytest
from kombu import Connection
from kombu.transport import redis as kombu_redis

from config import broker
from tests.conftest import need, redis_available, redis_url


def test_a_channel_closed_after_its_connection_was_collected_does_not_crash():
    need(redis_available(), f"this test needs Redis at {redis_url()}")
    broker.install()
    conn = Connection(redis_url())
    queue = conn.SimpleQueue("atelier-test-broker")
    try:
        queue.put({"n": 1})
        message = queue.get(timeout=5)  # delivered, not acknowledged: the worker holds it
        assert message.payload == {"n": 1}
        channel = queue.channel
        assert channel.qos._delivered
        # What Celery's consumer does on a broken connection: collect (the transport loses its
        # Connection), then close again. Before, this raised AttributeError ('hostname').
        conn._do_close_transport()
        channel.close()
        assert not channel.qos._delivered
    finally:
        with Connection(redis_url()) as clean:
            clean.default_channel.queue_purge("atelier-test-broker")


def test_without_the_guard_kombu_crashes_the_same_way(monkeypatch):
    # Pins the failure the guard exists for: if a kombu release fixes it, this test says so.
    need(redis_available(), f"this test needs Redis at {redis_url()}")
    monkeypatch.setattr(kombu_redis.QoS, "restore_unacked", broker._restore_unacked)
    conn = Connection(redis_url())
    queue = conn.SimpleQueue("atelier-test-broker-2")
    try:
        queue.put({"n": 2})
        queue.get(timeout=5)
        channel = queue.channel
        conn._do_close_transport()
        with pytest.raises(AttributeError):
            channel.close()
    finally:
        with Connection(redis_url()) as clean:
            clean.default_channel.queue_purge("atelier-test-broker-2")


def _delivered_then_broken(name: str):
    conn = Connection(redis_url())
    queue = conn.SimpleQueue(name)
    queue.put({"n": 3})
    message = queue.get(timeout=5)  # a task the worker is still running
    conn._do_close_transport()  # the broker connection breaks and Celery collects it
    return queue, message


@pytest.mark.parametrize("close_channel", [False, True], ids=["collected", "collected-and-closed"])
@pytest.mark.parametrize("verdict", ["ack", "reject", "requeue"])
def test_a_task_finishing_after_the_connection_broke_does_not_stop_the_worker(verdict, close_channel):
    """Seen in the webhook burst: both default workers exited with AttributeError ('client') when a task
    acknowledged on the old channel right after Redis was killed."""
    need(redis_available(), f"this test needs Redis at {redis_url()}")
    broker.install()
    name = f"atelier-test-broker-ack-{verdict}-{close_channel}"
    queue, message = _delivered_then_broken(name)
    try:
        if close_channel:
            queue.channel.close()
        if verdict == "ack":
            message.ack()
        else:
            message.reject(requeue=verdict == "requeue")
        assert message.delivery_tag not in queue.channel.qos._delivered
    finally:
        with Connection(redis_url()) as clean:
            clean.default_channel.queue_purge(name)


def test_without_the_guard_a_late_ack_crashes_the_worker(monkeypatch):
    need(redis_available(), f"this test needs Redis at {redis_url()}")
    broker.install()
    monkeypatch.setattr(kombu_redis.QoS, "ack", broker._ack)
    queue, message = _delivered_then_broken("atelier-test-broker-ack-raw")
    try:
        queue.channel.close()  # the consumer closes the collected channel (its give-back guarded)
        with pytest.raises(AttributeError):
            message.ack()
    finally:
        with Connection(redis_url()) as clean:
            clean.default_channel.queue_purge("atelier-test-broker-ack-raw")
