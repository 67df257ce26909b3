"""The pages in a real browser: upload, marking clips, the framing and regions editors.

Screenshots of the games, game, project and exports pages go to test-artifacts/screenshots.
"""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from exports.models import ExportJob
from games.models import Clip, Game, ProjectClip
from tests.browser.conftest import screenshot
from tests.browser.scenes import make_scene
from tests.support.media import cached_video

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def patient_expectations():
    expect.set_options(timeout=30_000)


def upload(page, title: str, files) -> None:
    page.get_by_label("Title").fill(title)
    page.get_by_label("Video file").set_input_files(files)
    page.get_by_role("button", name="Upload").click()


def test_upload_refuses_what_is_not_a_video_then_uploads_and_probes_one(user, signed_in):
    page = signed_in().new_page()
    page.goto("/")
    page.wait_for_selector("[data-role=upload-form][data-ready='1']")  # else the form posts
    error = page.locator("[data-role=upload-error]")

    upload(page, "Notes", {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"})
    expect(error).to_contain_text("is not a video file")
    big = {"name": "huge.mp4", "mimeType": "video/mp4", "buffer": b"\0" * 6_000_000}
    upload(page, "Huge", big)
    expect(error).to_contain_text("the limit is")
    fake = {"name": "fake.mp4", "mimeType": "video/mp4", "buffer": b"not really a video" * 100}
    upload(page, "Fake", fake)
    expect(error).to_contain_text("could not be used")
    assert not Game.objects.filter(title__in=["Notes", "Huge"]).exists()

    upload(page, "Cup final", str(cached_video("upload", seconds=2, width=320, height=180)))
    row = page.locator("[data-role=game-rows] tr", has_text="Cup final")
    expect(row).to_have_attribute("data-status", "ready")
    expect(row.locator(".probe")).to_contain_text("320×180")
    expect(row.locator(".probe")).to_contain_text("2.0 s")
    assert page.get_by_label("Title").input_value() == ""  # the form is ready for the next one
    screenshot(page, "games")


def seek(page, seconds: float) -> None:
    page.evaluate(
        """t => new Promise(done => {
            const v = document.querySelector('[data-role=player]');
            v.addEventListener('seeked', () => done(), {once: true});
            v.currentTime = t;
        })""",
        seconds,
    )


def test_marking_start_and_end_at_the_playhead_saves_a_clip_and_edits_save_in_place(
    user, signed_in
):
    scene = make_scene(user, "annotate")
    page = signed_in().new_page()
    page.goto(f"/games/{scene.game.pk}/")
    page.wait_for_function("document.querySelector('[data-role=player]').readyState >= 1")
    seek(page, 1.0)
    page.get_by_role("button", name="Mark start").click()
    seek(page, 3.0)
    page.get_by_role("button", name="Mark end").click()
    row = page.locator(".clip", has_text="1.0–3.0 s")
    expect(row).to_be_visible()
    clip = Clip.objects.get(game=scene.game, start=1.0)
    assert clip.end == 3.0

    row.get_by_label("Rating").select_option("5")
    expect(row.locator("[data-role=notation]")).to_have_text("!!")
    for label, value in (("Name", "Header"), ("Tags", "set piece, left")):
        row.get_by_label(label).fill(value)
        with page.expect_response(lambda r: r.request.method == "PATCH") as saved:
            row.get_by_label(label).press("Tab")
        assert saved.value.ok
    clip.refresh_from_db()
    assert (clip.rating, clip.name, clip.tags) == (5, "Header", ["set piece", "left"])
    screenshot(page, "game")


def drag(page, selector: str, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Drag across an element, from and to fractions of its size."""
    box = page.locator(selector).bounding_box()
    page.mouse.move(box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1])
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1], steps=5)
    page.mouse.up()


def test_dragging_over_the_player_adds_a_crop_keyframe_and_a_highlight_region(user, signed_in):
    scene = make_scene(user, "framing")
    ExportJob.objects.create(
        owner=user,
        kind="framing",
        project=scene.project,
        status="error",
        error="Source video could not be read",
        completed_at=timezone.now(),
    )
    page = signed_in().new_page()
    page.goto(scene.page)
    page.wait_for_selector("[data-role=project][data-ready='1']")
    expect(page.locator("[data-role=job-error]")).to_have_text("Source video could not be read")

    drag(page, "[data-role=overlay]", (0.3, 0.1), (0.5, 0.9))
    expect(page.locator("[data-role=keyframes] tr")).to_have_count(1)
    expect(page.locator("[data-role=save-state]")).to_have_text("All changes saved.")
    kf = ProjectClip.objects.get(project=scene.project).crop_keyframes[0]
    assert kf["t"] == 0 and abs(kf["w"] - kf["h"] * 9 / 16) <= 2 and kf["h"] > 100

    page.get_by_role("tab", name="Highlight regions").click()
    drag(page, "[data-role=overlay]", (0.4, 0.5), (0.45, 0.6))
    expect(page.locator("[data-role=regions] tr")).to_have_count(2)  # the scene had one
    expect(page.locator("[data-role=save-state]")).to_have_text("All changes saved.")
    regions = ProjectClip.objects.get(project=scene.project).highlight_regions
    assert len(regions) == 2 and regions[1]["keyframes"][0]["rx"] > 0
    screenshot(page, "project")

    page.goto("/exports/")
    expect(page.locator("[data-role=job-error]")).to_be_visible()
    screenshot(page, "exports")
