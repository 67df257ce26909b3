"""The channel layer, tuned for this stack (see DESIGN.md, "Pitfalls of this stack").

redis-py's defaults (a 100-connection pool cap and a socket timeout racing the
layer's blocking pop) fail handshakes under load and kill idle sockets, so the
pool here blocks instead of failing and never times a socket out.

channels-redis drops a group message for a channel that is over ``capacity`` and only
logs it at INFO. Those drops are counted here (``dropped_messages()``) and logged as
warnings, so a lost notification is visible to an operator and to the benchmark.
"""

from __future__ import annotations

import logging
import threading

from channels_redis.core import RedisChannelLayer
from redis import asyncio as aioredis

POOL_MAX_CONNECTIONS = 10_000

_drops_lock = threading.Lock()
_drops = 0


class ReelforgeChannelLayer(RedisChannelLayer):
    def create_pool(self, index: int) -> aioredis.ConnectionPool:
        host = dict(self.hosts[index])
        address = host.pop("address")
        return aioredis.BlockingConnectionPool.from_url(
            address,
            max_connections=POOL_MAX_CONNECTIONS,
            timeout=None,
            socket_timeout=None,
            socket_connect_timeout=10,
            **host,
        )


def dropped_messages() -> int:
    """Group messages this process dropped because a receiving channel was over capacity."""
    return _drops


class _CountCapacityDrops(logging.Filter):
    """channels-redis reports drops only as "%s of %s channels over capacity in group %s"."""

    def filter(self, record: logging.LogRecord) -> bool:
        global _drops
        if "over capacity" in str(record.msg) and record.args:
            with _drops_lock:
                _drops += int(record.args[0])
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_channels_redis_logger = logging.getLogger("channels_redis.core")
# The drop is logged at INFO; keep INFO enabled on this logger so the filter always sees it.
_channels_redis_logger.setLevel(logging.INFO)
_channels_redis_logger.addFilter(_CountCapacityDrops())
