"""The HTTP API: 202 + job, errors of the one shape, owner-only access, downloads with Range."""

from __future__ import annotations

import pytest

from exports.models import ExportJob

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_queue(monkeypatch):
    """The API tests run the job themselves; nothing goes to the real queue."""
    queued: list[int] = []
    monkeypatch.setattr("exports.backends.local.enqueue_render", queued.append)
    return queued


def post(client, body, **headers):
    return client.post("/api/exports", body, content_type="application/json", headers=headers)


def test_post_returns_202_with_the_job_and_the_key_replays_it(
    client_user, game, clips, no_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = post(
            client_user, {"kind": "annotate", "game_id": game.pk}, **{"Idempotency-Key": "a1"}
        )
    again = post(client_user, {"kind": "annotate", "game_id": game.pk}, **{"Idempotency-Key": "a1"})
    assert first.status_code == again.status_code == 202
    body = first.json()
    assert again.json()["id"] == body["id"]
    assert (body["kind"], body["status"], body["progress"]) == ("annotate", "pending", 0)
    assert no_queue == [body["id"]]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"kind": "poster", "game_id": 1}, 422, "invalid"),
        ({"kind": "annotate"}, 422, "invalid"),
        ({"game_id": 1}, 422, "invalid"),
        ({"kind": "framing", "project_id": 99999}, 404, "not_found"),
    ],
)
def test_bad_requests_get_the_documented_error(client_user, game, body, status, code):
    response = post(client_user, body)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert not ExportJob.objects.exists()


def test_malformed_json_is_a_400(client_user):
    response = client_user.post("/api/exports", "{kind: ", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert not ExportJob.objects.exists()


def test_too_many_exports_is_429(client_user, game, clips, settings):
    settings.EXPORT_MAX_ACTIVE_PER_USER = 1
    assert post(client_user, {"kind": "annotate", "game_id": game.pk}).status_code == 202
    response = post(client_user, {"kind": "annotate", "game_id": game.pk})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "too_many_exports"


def test_another_users_project_and_job_are_404(client, user, other_user, project, game, clips,
                                               start_job):  # fmt: skip
    job = start_job(user, kind="annotate", game_id=game.pk)
    client.force_login(other_user)
    assert post(client, {"kind": "framing", "project_id": project.pk}).status_code == 404
    for path in ("", "/download", "/files/1"):
        assert client.get(f"/api/exports/{job.pk}{path}").status_code == 404
    for action in ("cancel", "retry"):
        response = client.post(f"/api/exports/{job.pk}/{action}")
        assert response.status_code == 404
        assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}
    assert client.get("/api/exports").json()["items"] == []


def test_list_filters_by_state_and_pages_by_cursor(client_user, user, game, clips, start_job):
    jobs = [start_job(user, kind="annotate", game_id=game.pk) for _ in range(3)]
    ExportJob.objects.filter(pk=jobs[0].pk).update(status="complete")
    active = client_user.get("/api/exports?state=active").json()
    assert [j["id"] for j in active["items"]] == [jobs[2].pk, jobs[1].pk]
    recent = client_user.get("/api/exports?state=recent").json()
    assert [j["id"] for j in recent["items"]] == [jobs[0].pk]
    page = client_user.get("/api/exports?limit=2").json()
    assert len(page["items"]) == 2 and page["next_cursor"] == jobs[1].pk
    rest = client_user.get(f"/api/exports?limit=2&cursor={page['next_cursor']}").json()
    assert [j["id"] for j in rest["items"]] == [jobs[0].pk] and rest["next_cursor"] is None
    assert client_user.get("/api/exports?state=old").status_code == 422


def test_cancel_and_retry_answer_202(client_user, user, game, clips, start_job):
    job = start_job(user, kind="annotate", game_id=game.pk)
    response = client_user.post(f"/api/exports/{job.pk}/cancel")
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    retried = client_user.post(f"/api/exports/{job.pk}/retry")
    assert retried.status_code == 202
    assert retried.json()["retry_of_id"] == job.pk and retried.json()["status"] == "pending"
    finished = client_user.post(f"/api/exports/{retried.json()['id']}/retry")
    assert finished.status_code == 409


def test_download_supports_range_and_clip_files(client_user, user, game, clips, start_job, run_job):
    job = start_job(user, kind="annotate", game_id=game.pk)
    assert client_user.get(f"/api/exports/{job.pk}/download").status_code == 409
    run_job(job)
    detail = client_user.get(f"/api/exports/{job.pk}").json()
    assert detail["output"]["size"] == job.output_size
    assert [f["name"] for f in detail["files"]] == ["01-goal.mp4", "02-save.mp4"]

    whole = client_user.get(detail["output"]["url"])
    assert whole.status_code == 200
    assert b"".join(whole.streaming_content)[4:8] == b"ftyp"
    part = client_user.get(detail["output"]["url"], headers={"Range": "bytes=0-99"})
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 0-99/{job.output_size}"
    clip = client_user.get(detail["files"][1]["url"], headers={"Range": "bytes=4-7"})
    assert clip.status_code == 206 and b"".join(clip.streaming_content) == b"ftyp"
    assert client_user.get(f"/api/exports/{job.pk}/files/3").status_code == 404


def test_openapi_document_lists_the_export_endpoints(client_user):
    paths = client_user.get("/api/openapi.json").json()["paths"]
    for path in ("/api/exports", "/api/exports/{job_id}/cancel", "/api/exports/{job_id}/download"):
        assert path in paths
