"""The channel layer crosses processes: a worker's group_send reaches a consumer elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from channels.layers import get_channel_layer

from config.settings import BASE_DIR


async def test_group_send_from_another_process_reaches_this_one():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = f"cross-process-{os.getpid()}"
    await layer.group_add(group, channel)
    sender = textwrap.dedent(
        f"""
        import django
        django.setup()
        from asgiref.sync import async_to_sync
        from channels.layers import get_channel_layer
        async_to_sync(get_channel_layer().group_send)({group!r}, {{"type": "hello.there", "n": 42}})
        """
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test"}
    subprocess.run([sys.executable, "-c", sender], check=True, cwd=BASE_DIR, env=env, timeout=60)
    message = await layer.receive(channel)
    assert message == {"type": "hello.there", "n": 42}
    await layer.group_discard(group, channel)
