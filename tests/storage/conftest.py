"""A real S3 API on loopback (moto's server in a thread) and storage switched to it per test."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

MIB = 1024 * 1024


@dataclass
class S3Env:
    """The bucket a test talks to, with a plain boto3 client (not the app's)."""

    client: object
    bucket: str
    prefix: str
    endpoint: str

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def object_keys(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.bucket)
        return sorted(obj["Key"] for obj in listed.get("Contents", []))

    def body(self, name: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self.key(name))["Body"].read()

    def multipart_uploads(self) -> list[dict]:
        return self.client.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])


@pytest.fixture(scope="session")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(settings, moto_endpoint) -> S3Env:
    """Default storage on a fresh bucket of the moto server; small multipart thresholds."""
    import boto3

    from config.settings import s3_storage_config

    bucket = f"reelforge-{uuid.uuid4().hex[:12]}"
    credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1", **credentials)
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": s3_storage_config(
            bucket=bucket,
            endpoint_url=moto_endpoint,
            region="us-east-1",
            access_key="test",
            secret_key="test",
            prefix="rf",
        ),
    }
    # S3 refuses parts under 5 MiB (but the last), so multipart tests need files over 5 MiB.
    settings.UPLOAD_MULTIPART_THRESHOLD = 6 * MIB
    settings.UPLOAD_PART_SIZE = 5 * MIB
    return S3Env(client=client, bucket=bucket, prefix="rf", endpoint=moto_endpoint)


def padded_video(source, target, *, size: int):
    """``source`` (an MP4) followed by a ``free`` box: still a valid video, ``size`` bytes long."""
    data = source.read_bytes()
    pad = size - len(data)
    assert pad >= 8
    target.write_bytes(data + pad.to_bytes(4, "big") + b"free" + bytes(pad - 8))
    return target
