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
