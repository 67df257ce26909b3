"""The Modal function's body, run here: sources and output through presigned URLs of moto's S3."""

from __future__ import annotations

import pickle

import pytest

from exports.remote_render import RemoteProgress, RemoteRenderError, run_render_job
from exports.renderers import render
from tests.modal.helpers import SAME_PIXELS, mean_pixel_difference
from videokit.probe import probe_video

SNAPSHOT = {
    "kind": "overlay",
    "project": {"id": 1, "name": "Reel", "aspect": "16:9", "width": 320, "height": 180, "fps": 25},
    "working_video": {
        "key": "working",
        "name": "u1/exports/1/working.mp4",
        "duration": 4.0,
        "width": 320,
        "height": 180,
        "fps": 25,
        "has_audio": True,
    },
    "regions": [
        {
            "start": 1.0,
            "end": 2.5,
            "effect": "spotlight",
            "keyframes": [
                {"t": 0.0, "x": 100, "y": 90, "rx": 40, "ry": 30},
                {"t": 1.0, "x": 220, "y": 90, "rx": 40, "ry": 30},
            ],
        }
    ],
}


class Recording(dict):
    """A progress store that also keeps every entry written (a modal.Dict in production)."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[dict] = []

    def __setitem__(self, key, value) -> None:
        self.entries.append(value)
        super().__setitem__(key, value)


def presign(s3, method: str, key: str, **params) -> str:
    return s3.client.generate_presigned_url(
        method, Params={"Bucket": s3.bucket, "Key": key, **params}, ExpiresIn=600
    )


def test_remote_body_renders_what_the_local_renderer_renders(s3, video_path, tmp_path):
    s3.client.put_object(Bucket=s3.bucket, Key="in/working.mp4", Body=video_path.read_bytes())
    store = Recording()

    result = run_render_job(
        job_id=1,
        snapshot=SNAPSHOT,
        source_urls={"working": presign(s3, "get_object", "in/working.mp4")},
        output_put_url=presign(s3, "put_object", "out/final.mp4", ContentType="video/mp4"),
        progress_store=store,
        progress_key="reelforge:1:1",
        workdir=tmp_path,
    )

    remote = tmp_path / "remote.mp4"
    remote.write_bytes(s3.client.get_object(Bucket=s3.bucket, Key="out/final.mp4")["Body"].read())
    local = render(
        SNAPSHOT,
        sources={"working": video_path},
        workdir=tmp_path / "local",
        progress=RemoteProgress({}, "unused"),
    )
    assert result["size"] == remote.stat().st_size
    # FFmpeg's threaded encode is not byte-exact from run to run (two local renders of this
    # overlay differ by ~0.1 %), so "the same size" is within 1 %.
    assert result["size"] == pytest.approx(local.path.stat().st_size, rel=0.01)
    assert result["duration"] == pytest.approx(probe_video(local.path).duration, abs=1e-3)
    assert result["expected_duration"] == local.expected_duration
    assert (result["clip_count"], result["extras"]) == (1, [])
    for seconds in (0.5, 1.5, 3.0):
        assert mean_pixel_difference(local.path, remote, seconds) < SAME_PIXELS
    # Progress: every stage in order, never backwards, ending at 100 %; the temp folder is gone.
    stages = list(dict.fromkeys(e["stage"] for e in store.entries))
    assert stages[0] == "fetching" and stages[-2:] == ["verifying", "uploading"]
    percents = [e["progress"] for e in store.entries]
    assert percents == sorted(percents) and percents[-1] == 100
    assert [e["seq"] for e in store.entries] == sorted({e["seq"] for e in store.entries})
    assert store["reelforge:1:1"]["progress"] == 100
    assert list(tmp_path.glob("reelforge-job1-*")) == []


def test_unreadable_source_is_a_clear_error_that_survives_pickling(s3, tmp_path):
    (tmp_path / "work").mkdir()
    with pytest.raises(RemoteRenderError) as caught:
        run_render_job(
            job_id=2,
            snapshot=SNAPSHOT,
            source_urls={"working": presign(s3, "get_object", "in/missing.mp4")},
            output_put_url=presign(s3, "put_object", "out/x.mp4", ContentType="video/mp4"),
            progress_store={},
            workdir=tmp_path / "work",
        )

    error = pickle.loads(pickle.dumps(caught.value))  # how Modal hands it to the worker
    assert error.user_message == "The source video working could not be downloaded (HTTP 404)."
    assert "HTTPError" in error.detail
    assert list((tmp_path / "work").iterdir()) == []


def test_progress_writes_are_throttled_and_never_fail_the_render():
    now = [0.0]

    class Flaky(dict):
        fail = False

        def __setitem__(self, key, value) -> None:
            if self.fail:
                raise ConnectionError("Modal is unreachable")
            super().__setitem__(key, value)

    store = Flaky()
    sink = RemoteProgress(store, "k", clock=lambda: now[0], write_every=0.5)
    sink.stage("rendering", message="Rendering clip 1 of 2", start=5, end=50, item=1, items=2)
    first = store["k"]
    sink.fraction(0.5)  # same instant: kept in memory, not written
    assert store["k"] == first
    now[0] = 0.6
    sink.fraction(0.6)
    assert store["k"]["progress"] == 32.0 and store["k"]["seq"] == first["seq"] + 1
    store.fail = True
    sink.stage("joining", message="Joining 2 clips", start=50, end=60)  # a write that fails
    store.fail = False
    sink.fraction(0.1)  # a stage change is written at once; this is within 0.5 s
    assert store["k"]["stage"] == "rendering"
    now[0] = 1.2
    sink.fraction(0.2)
    assert (store["k"]["stage"], store["k"]["progress"]) == ("joining", 52.0)
    assert store["k"]["items"] == {"done": 0, "total": 0}
