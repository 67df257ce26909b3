"""ReelforgeChannelLayer on the real Redis: batched receive, group_send_many, counted drops."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings

from notifications.layers import ReelforgeChannelLayer, dropped_messages


@pytest.fixture
async def layer():
    layer = ReelforgeChannelLayer(
        hosts=[{"address": settings.REDIS_URL}],
        prefix=f"layer-test-{uuid.uuid4().hex[:8]}",
        capacity=5000,
    )
    yield layer
    await layer.flush()


async def test_a_burst_to_one_process_is_received_whole_and_in_order(layer):
    channels = [await layer.new_channel() for _ in range(3)]
    for i in range(250):  # more than one receive batch
        await layer.send(channels[i % 3], {"type": "hub.frame", "n": i})
    received = {channel: [] for channel in channels}
    for i in range(250):
        channel = channels[i % 3]
        received[channel].append((await layer.receive(channel))["n"])
    for offset, channel in enumerate(channels):
        assert received[channel] == list(range(offset, 250, 3))


async def test_a_batch_left_in_the_backup_by_a_cancelled_receive_is_restored(layer):
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "hub.frame", "n": 1})
    channel_key = layer.prefix + layer.non_local_name(channel)
    # A receive cancelled after Redis moved the batch to the backup, before Python saw it.
    connection = layer.connection(0)
    moved = await connection.zpopmin(channel_key)
    await connection.zadd(layer._backup_channel_name(channel_key), {moved[0][0]: moved[0][1]})
    layer._batch_unconfirmed[channel_key] = True
    assert (await layer.receive(channel))["n"] == 1


async def test_group_send_many_reaches_every_member_of_every_group_in_order(layer):
    tabs = {user: [await layer.new_channel() for _ in range(2)] for user in range(5)}
    for user, channels in tabs.items():
        for channel in channels:
            await layer.group_add(f"hub.user.{user}", channel)
    await layer.group_send_many(
        [(f"hub.user.{user}", {"type": "hub.frame", "n": n}) for n in range(3) for user in tabs]
        + [("hub.user.nobody", {"type": "hub.frame", "n": 99})]
    )
    for channels in tabs.values():
        for channel in channels:
            assert [(await layer.receive(channel))["n"] for _ in range(3)] == [0, 1, 2]


async def test_messages_over_capacity_are_counted(layer):
    layer.capacity = 2
    channel = await layer.new_channel()
    await layer.group_add("hub.user.1", channel)
    before = dropped_messages()
    await layer.group_send_many([("hub.user.1", {"type": "hub.frame", "n": n}) for n in range(5)])
    await layer.group_send("hub.user.1", {"type": "hub.frame", "n": 5})  # stock path, logged
    assert dropped_messages() - before == 4
