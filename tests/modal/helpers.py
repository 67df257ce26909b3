"""Small helpers of the Modal tests: stored files to local paths, frame comparison."""

from __future__ import annotations

from pathlib import Path

from games.storage import copy_to, default_storage
from videokit.testmedia import frame_at


def fetch_stored(name: str, target: Path) -> Path:
    """A stored file (S3 in these tests) copied to ``target``."""
    with open(target, "wb") as out:
        copy_to(default_storage(), name, out)
    return target


# Two renders of the same job are not byte-identical (x264's threaded encode), so "the same
# pixels" means a mean difference of a few levels out of 255; a misplaced crop or ellipse
# differs by tens.
SAME_PIXELS = 3.0


def mean_pixel_difference(a: Path, b: Path, seconds: float) -> float:
    """Mean absolute RGB difference (0–255) of the frames shown at ``seconds``."""
    fa, fb = frame_at(a, seconds), frame_at(b, seconds)
    assert (fa.width, fa.height) == (fb.width, fb.height)
    da, db = bytes(fa.planes[0]), bytes(fb.planes[0])
    return sum(abs(x - y) for x, y in zip(da, db, strict=True)) / len(da)


def bucket_keys(s3) -> list[str]:
    """Every object key in the test bucket (``s3`` is the storage tests' moto fixture)."""
    listed = s3.client.list_objects_v2(Bucket=s3.bucket)
    return sorted(obj["Key"] for obj in listed.get("Contents", []))
