"""A static check, run by mypy (`make lint`): every connector the registry can load implements `Connector`.

The registry loads connectors by dotted path, so nothing else tells the type checker that a class missing
a method or an attribute of the protocol is wrong until the dispatcher calls it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scheduling.connectors.base import Connector
    from scheduling.connectors.bluesky import BlueskyConnector
    from scheduling.connectors.fanvue import FanvueConnector
    from scheduling.connectors.instagram import InstagramConnector
    from scheduling.connectors.manual import ManualConnector
    from scheduling.connectors.noop import NoopConnector
    from scheduling.connectors.reddit import RedditConnector
    from scheduling.connectors.telegram import TelegramConnector
    from scheduling.connectors.x import XConnector

    _bluesky: Connector = BlueskyConnector()
    _fanvue: Connector = FanvueConnector()
    _instagram: Connector = InstagramConnector()
    _manual: Connector = ManualConnector()
    _noop: Connector = NoopConnector()
    _reddit: Connector = RedditConnector()
    _telegram: Connector = TelegramConnector()
    _x: Connector = XConnector()
