"""Settings for the test suite: the same as production, isolated per test run.

A run id is put in the environment so that processes the tests start (qcluster,
daphne) inherit it and share this run's database, queue, channel prefix and media.
"""

from __future__ import annotations

import os
import uuid

os.environ.setdefault("REELFORGE_TEST_RUN", uuid.uuid4().hex[:10])
RUN_ID = os.environ["REELFORGE_TEST_RUN"]
os.environ.setdefault("QCLUSTER_NAME", f"reelforge-test-{RUN_ID}")
os.environ.setdefault("CHANNEL_PREFIX", f"reelforge-test-{RUN_ID}")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-" + "x" * 20)

from config.settings import *  # noqa: E402, F403
from config.settings import DATABASES, VAR_DIR  # noqa: E402

TEST_VAR_DIR = VAR_DIR / "test-runs" / RUN_ID
TEST_VAR_DIR.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = TEST_VAR_DIR / "media"

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not :memory:, so a qcluster or daphne started by a test sees the same rows.
    DATABASES["default"]["TEST"] = {"NAME": str(TEST_VAR_DIR / "test.sqlite3")}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EXPORT_HEARTBEAT_SECONDS = 1
EXPORT_WORK_DIR = TEST_VAR_DIR / "render"

if os.environ.get("REELFORGE_CHILD_PROCESS"):
    # A process started by a test (qcluster, daphne) works on the test database.
    _db = DATABASES["default"]
    _db["NAME"] = _db.get("TEST", {}).get("NAME") or f"test_{_db['NAME']}"
