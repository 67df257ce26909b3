"""The channel layer, tuned for this stack (see DESIGN.md, "Pitfalls of this stack").

redis-py's defaults (a 100-connection pool cap and a socket timeout racing the
layer's blocking pop) fail handshakes under load and kill idle sockets, so the
pool here blocks instead of failing and never times a socket out.
"""

from __future__ import annotations

from channels_redis.core import RedisChannelLayer
from redis import asyncio as aioredis

POOL_MAX_CONNECTIONS = 10_000


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
