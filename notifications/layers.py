"""The channel layer, tuned for this stack (see DESIGN.md, "Pitfalls of this stack").

redis-py's defaults (a 100-connection pool cap and a socket timeout racing the
layer's blocking pop) fail handshakes under load and kill idle sockets, so the
pool here blocks instead of failing and never times a socket out.

Every socket of a daphne process receives through one process-wide Redis key. Stock
channels-redis pops it one message at a time with four sequential round trips (restore
backup, BZPOPMIN, back up, clean up), so a broadcast to 1,000 users queues for seconds
in daphne. ``receive_single`` here pops up to ``receive_batch`` messages in one Lua call
(keeping channels-redis' backup queue, so a cancelled receive loses nothing) and only
blocks when the key is empty.

channels-redis drops a group message for a channel that is over ``capacity`` and only
logs it at INFO. Those drops are counted here (``dropped_messages()``) and logged as
warnings, so a lost notification is visible to an operator and to the benchmark.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any

from channels_redis.core import RedisChannelLayer
from redis import asyncio as aioredis

POOL_MAX_CONNECTIONS = 10_000
logger = logging.getLogger(__name__)

_drops_lock = threading.Lock()
_drops = 0


# Restore a batch that a cancelled call left in the backup (ARGV[1] == "1"), or drop the
# backup of the batch now held in memory; then move up to ARGV[2] messages to the backup
# and return them (member, score, member, score, ...), oldest first.
POP_BATCH = """
local backed_up = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
if ARGV[1] == '1' then
    for i = #backed_up, 1, -2 do
        redis.call('ZADD', KEYS[1], backed_up[i], backed_up[i - 1])
    end
end
redis.call('DEL', KEYS[2])
local popped = redis.call('ZPOPMIN', KEYS[1], tonumber(ARGV[2]))
if #popped > 0 then
    local args = {}
    for i = 1, #popped, 2 do
        args[#args + 1] = popped[i + 1]
        args[#args + 1] = popped[i]
    end
    redis.call('ZADD', KEYS[2], unpack(args))
end
return popped
"""


# Members of many groups at once (KEYS: group keys; ARGV[1]: drop members older than this).
GROUP_MEMBERS = """
local members = {}
for i = 1, #KEYS do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, ARGV[1])
    members[i] = redis.call('ZRANGE', KEYS[i], 0, -1)
end
return members
"""

# channels-redis' group_send script (4.3.0) for many messages at once. KEYS: one channel
# key per message; ARGV: the n messages, their n capacities, their n scores, the expiry.
# Returns the positions (1-based) of the messages dropped for being over capacity.
GROUP_SEND = """
local n = #KEYS
local expiry = tonumber(ARGV[3 * n + 1])
local dropped = {}
for i = 1, n do
    local score = tonumber(ARGV[2 * n + i])
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, score - expiry)
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[n + i]) then
        redis.call('ZADD', KEYS[i], score, ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        dropped[#dropped + 1] = i
    end
end
return dropped
"""


class ReelforgeChannelLayer(RedisChannelLayer):
    receive_batch = 100

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prefetched: dict[str, collections.deque[bytes]] = collections.defaultdict(
            collections.deque
        )
        self._batch_unconfirmed: dict[str, bool] = {}
        self._last_score = 0.0

    async def receive_single(self, channel: str) -> tuple[Any, dict]:
        if "!" not in channel:
            return await super().receive_single(channel)
        # Callers hold the layer's receive lock: one receive_single per channel at a time.
        index = self.consistent_hash(channel)
        channel_key = self.prefix + channel
        prefetched = self._prefetched[channel_key]
        while not prefetched:
            connection = self.connection(index)
            restore = self._batch_unconfirmed.get(channel_key, False)
            self._batch_unconfirmed[channel_key] = True
            popped = await connection.eval(
                POP_BATCH,
                2,
                channel_key,
                self._backup_channel_name(channel_key),
                "1" if restore else "0",
                self.receive_batch,
            )
            self._batch_unconfirmed[channel_key] = False
            if popped:
                prefetched.extend(popped[0::2])
                break
            result = await connection.bzpopmin(channel_key, timeout=self.brpop_timeout)
            if result is not None:
                prefetched.append(result[1])
        message = self.deserialize(prefetched.popleft())
        if "__asgi_channel__" in message:
            channel = message.pop("__asgi_channel__")
        return channel, message

    async def group_send_many(self, items: list[tuple[str, dict]]) -> None:
        """``group_send`` for many (group, message) pairs in two round trips per Redis host.

        One Lua call reads every group's members, one writes every message with
        channels-redis' capacity rule; messages to one group keep their order.
        """
        members: list[list[str]] = [[] for _ in items]
        by_index: dict[int, list[int]] = collections.defaultdict(list)
        for position, (group, _) in enumerate(items):
            assert self.require_valid_group_name(group), "Group name not valid"
            by_index[self.consistent_hash(group)].append(position)
        cutoff = int(time.time()) - self.group_expiry
        for index, positions in by_index.items():
            keys = [self._group_key(items[position][0]) for position in positions]
            replies = await self.connection(index).eval(GROUP_MEMBERS, len(keys), *keys, cutoff)
            for position, names in zip(positions, replies, strict=True):
                members[position] = [name.decode("utf8") for name in names]

        # Per Redis host: parallel lists of channel key, message, capacity, and the group.
        writes: dict[int, tuple[list, list, list, list]] = collections.defaultdict(
            lambda: ([], [], [], [])
        )
        for position, (group, message) in enumerate(items):
            if not members[position]:
                continue
            by_connection, messages, capacities = self._map_channel_keys_to_connection(
                members[position], message
            )
            for index, channel_keys in by_connection.items():
                keys, payloads, limits, groups = writes[index]
                for key in channel_keys:
                    keys.append(key)
                    payloads.append(messages[key])
                    limits.append(capacities[key])
                    groups.append(group)
        for index, (keys, payloads, limits, groups) in writes.items():
            scores = [self._next_score() for _ in keys]
            dropped = await self.connection(index).eval(
                GROUP_SEND, len(keys), *keys, *payloads, *limits, *scores, self.expiry
            )
            for position in dropped:
                _count_drops(1, groups[int(position) - 1])

    def _next_score(self) -> float:
        # A channel key is a sorted set scored by time, and equal scores sort by the
        # (randomly prefixed) message: each message gets its own, increasing score.
        self._last_score = max(time.time(), self._last_score + 1e-5)
        return self._last_score

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


def _count_drops(count: int, group: str) -> None:
    global _drops
    with _drops_lock:
        _drops += count
    logger.warning("%s channel(s) over capacity in group %s: message dropped", count, group)


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
