"""Export progress, completion and cancel as the user sees them, for every kind of export.

Each scenario runs against the live app (daphne + qcluster); renders are throttled to real
time so they last a few seconds. Waiting is on what the page shows, never on the clock.
"""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from exports.models import ExportJob
from notifications import services
from notifications.models import Notification
from tests.browser.scenes import KINDS, make_scene

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT_MS = 45_000


@pytest.fixture(autouse=True)
def slow_expectations():
    expect.set_options(timeout=WAIT_MS)


def job_row(page, job_id: int):
    return page.locator(f"#export-indicator [data-job-id='{job_id}']")


def progress(page, job_id: int) -> int:
    return int(job_row(page, job_id).get_by_role("progressbar").get_attribute("aria-valuenow"))


def wait_progress_above(page, job_id: int, floor: int) -> int:
    """Wait until the bar shows more than ``floor`` percent; return what it shows."""
    bar = job_row(page, job_id).get_by_role("progressbar")
    page.wait_for_function(
        "([el, floor]) => Number(el.getAttribute('aria-valuenow')) > floor",
        arg=[bar.element_handle(timeout=WAIT_MS), floor],
        timeout=WAIT_MS,
    )
    return progress(page, job_id)


def expect_unread(page) -> None:
    bell = page.locator("[data-role=bell-button]")
    expect(bell).to_have_attribute("data-unread", re.compile("[1-9]"))


def all_notified(page, job: ExportJob) -> int:
    """Wait until every notification of a finished job is in (annotate also reports its
    extracted clips) and the page's badge counts them; return that count."""
    expected = 2 if job.kind == "annotate" else 1
    page.wait_for_function(
        "n => document.querySelector('[data-role=bell-button]').dataset.unread === String(n)",
        arg=expected,
    )
    assert Notification.objects.filter(user=job.owner, read_at=None).count() == expected
    return expected


def settled(page) -> None:
    """The hub is connected (its snapshot is in) and no toast decision is pending."""
    page.wait_for_function(
        "document.body.dataset.hub === 'open' && (document.body.dataset.toastChecks || '0') === '0'"
    )


def completion_note(job: ExportJob) -> Notification:
    return Notification.objects.get(event_key=f"export:{job.pk}:completed")


def times_toasted(page, note: Notification) -> int:
    """How often this tab showed a toast for ``note`` (toasts auto-dismiss: the tab keeps a log)."""
    shown = page.locator("#toasts").get_attribute("data-shown") or ""
    return shown.split().count(str(note.pk))


def wait_toasted(page, note: Notification) -> None:
    page.wait_for_function(
        "id => (document.getElementById('toasts').dataset.shown || '').split(' ').includes(id)",
        arg=str(note.pk),
    )


def wait_finished(job: ExportJob, page, status: str = "complete") -> ExportJob:
    """Wait until the job has ended (in the database) and its bar has left the indicator."""
    for _ in range(WAIT_MS // 250):
        job.refresh_from_db()
        if job.is_finished:
            break
        page.wait_for_timeout(250)
    assert job.status == status, (job.status, job.error, job.error_detail[-500:])
    expect(job_row(page, job.pk)).to_have_count(0)
    return job


HIDDEN_TAB = """
window.__hidden = true;
Object.defineProperty(document, "hidden", { get: () => window.__hidden });
Object.defineProperty(document, "visibilityState", {
  get: () => (window.__hidden ? "hidden" : "visible"),
});
"""


def hidden_tab(context):
    """A tab the user is not looking at (headless Chromium reports every page visible)."""
    page = context.new_page()
    page.add_init_script(HIDDEN_TAB)
    return page


def bring_to_front(page) -> None:
    page.evaluate("window.__hidden = false; document.dispatchEvent(new Event('visibilitychange'))")


def open_home(tabs) -> None:
    for tab in tabs:
        tab.goto("/")
        settled(tab)


def notify_completions(user, count: int) -> list[Notification]:
    return [
        services.notify(user=user, kind="export.completed", level="success", title=f"Reel {i}")
        for i in range(count)
    ]


def wait_all_in(tabs, notes) -> None:
    """Every tab counts every note as unread and has decided about its toasts."""
    for tab in tabs:
        tab.wait_for_function(
            "n => document.querySelector('[data-role=bell-button]').dataset.unread === String(n)",
            arg=len(notes),
        )
        settled(tab)


@pytest.mark.parametrize("kind", KINDS)
def test_refresh_during_export_brings_the_indicator_back_and_it_runs_to_completion(
    kind, user, signed_in
):
    scene = make_scene(user, kind)
    page = signed_in().new_page()
    page.goto(scene.page)
    if kind == "framing":
        page.wait_for_selector("[data-role=project][data-ready='1']")
        page.select_option("[data-role=scale]", "0.25")
    if kind == "annotate":
        page.get_by_role("checkbox", name="Select Goal").check()
    button = {
        "annotate": "Export annotated compilation",
        "framing": "Render working video (framing)",
        "overlay": "Render final video (overlay)",
    }[kind]
    page.get_by_role("button", name=button).click()
    expect(page.locator("#export-indicator [data-job-id]")).to_have_count(1)
    job = ExportJob.objects.get(owner=user, kind=kind, status__in=ExportJob.ACTIVE_STATUSES)
    before = wait_progress_above(page, job.pk, 0)

    page.reload()
    expect(job_row(page, job.pk)).to_be_visible()
    again = wait_progress_above(page, job.pk, 0)
    assert again >= before
    wait_progress_above(page, job.pk, again)
    wait_finished(job, page)


def test_a_refresh_never_steps_the_bar_back_to_the_older_job_row(user, signed_in):
    """The row is written once a second and frames run ahead of it: a refreshed tab keeps
    the newer frame it showed instead of the row the snapshot reads."""
    now = timezone.now()
    job = ExportJob.objects.create(
        owner=user, kind="annotate", status=ExportJob.Status.PROCESSING, stage="render",
        progress=30, worker_id="a-worker-elsewhere", heartbeat_at=now, started_at=now,
    )  # fmt: skip
    page = signed_in().new_page()
    page.goto("/")
    settled(page)
    bar = job_row(page, job.pk).get_by_role("progressbar")
    expect(bar).to_have_attribute("aria-valuenow", "30")

    job.progress, job.updated_at = 60, timezone.now()
    services.publish_job(job)  # a frame only, as between two row writes
    expect(bar).to_have_attribute("aria-valuenow", "60")
    page.reload()
    settled(page)
    expect(bar).to_have_attribute("aria-valuenow", "60", timeout=3000)


@pytest.mark.parametrize("kind", KINDS)
def test_completion_on_another_page_toasts_once_and_stays_unread_until_read(kind, user, signed_in):
    scene = make_scene(user, kind)
    page = signed_in().new_page()
    page.goto(scene.elsewhere)
    settled(page)
    job = scene.start(user)
    expect(job_row(page, job.pk)).to_be_visible()
    wait_finished(job, page)
    note = completion_note(job)
    wait_toasted(page, note)
    settled(page)
    assert times_toasted(page, note) == 1
    expect_unread(page)

    for _ in range(3):
        page.reload()
        settled(page)
        assert times_toasted(page, note) == 0
        expect(page.locator("[data-role=badge]")).to_be_visible()

    page.get_by_role("button", name=re.compile("^Notifications")).click()
    item = page.locator(f".bell-list [data-notification-id='{note.pk}']")
    expect(item).to_have_class(re.compile("unread"))
    item.get_by_role("button", name="Mark read").click()
    expect(item).not_to_have_class(re.compile("unread"))
    note.refresh_from_db()
    assert note.read_at is not None


@pytest.mark.parametrize("kind", KINDS)
def test_two_tabs_show_one_toast_and_a_read_clears_both_badges(kind, user, signed_in):
    scene = make_scene(user, kind)
    context = signed_in()
    first, second = context.new_page(), context.new_page()
    for page in (first, second):
        page.goto(scene.elsewhere)
        settled(page)
    job = scene.start(user)
    expect(job_row(first, job.pk)).to_be_visible()
    expect(job_row(second, job.pk)).to_be_visible()
    wait_finished(job, first)
    for page in (first, second):
        all_notified(page, job)
        settled(page)
    note = completion_note(job)
    shown = [times_toasted(p, note) for p in (first, second)]
    assert sum(shown) == 1, shown

    first.get_by_role("button", name=re.compile("^Notifications")).click()
    first.get_by_role("button", name="Mark all read").click()
    for page in (first, second):
        expect(page.locator("[data-role=badge]")).to_be_hidden()
    note.refresh_from_db()
    assert note.read_at is not None


def test_each_notification_toasts_once_across_tabs_and_browsers(user, signed_in):
    """Three tabs on the laptop and one on the phone: five completions, five toasts in all."""
    laptop, phone = signed_in(), signed_in()
    tabs = [laptop.new_page() for _ in range(3)] + [phone.new_page()]
    open_home(tabs)
    notes = notify_completions(user, 5)
    wait_all_in(tabs, notes)
    for note in notes:
        shown = [times_toasted(tab, note) for tab in tabs]
        assert sum(shown) == 1, (note.title, shown)
        note.refresh_from_db()
        assert note.seen_at is not None and note.read_at is None


def test_the_tab_in_view_gets_the_toast_not_the_hidden_ones(user, signed_in):
    context = signed_in()
    hidden = [hidden_tab(context), hidden_tab(context)]
    in_view = context.new_page()
    tabs = [*hidden, in_view]
    open_home(tabs)
    notes = notify_completions(user, 3)
    wait_all_in(tabs, notes)
    for note in notes:
        assert [times_toasted(tab, note) for tab in tabs] == [0, 0, 1], note.title


def test_a_toast_in_a_hidden_tab_waits_for_the_user_to_look(user, signed_in):
    """Alone and hidden, the tab still toasts, but the toast outlasts its 7 s until seen."""
    page = hidden_tab(signed_in())
    open_home([page])
    (note,) = notify_completions(user, 1)
    wait_toasted(page, note)
    toast = page.locator(f"#toasts [data-notification-id='{note.pk}']")
    page.wait_for_timeout(8_000)  # longer than the auto-dismiss delay
    expect(toast).to_be_visible()
    bring_to_front(page)
    expect(toast).to_be_hidden(timeout=15_000)


@pytest.mark.parametrize("kind", KINDS)
def test_cancel_from_the_indicator_ends_the_job_and_notifies(kind, user, signed_in):
    scene = make_scene(user, kind)
    page = signed_in().new_page()
    page.goto(scene.elsewhere)
    job = scene.start(user)
    wait_progress_above(page, job.pk, 0)
    job_row(page, job.pk).get_by_role("button", name=re.compile("^Cancel")).click()
    wait_finished(job, page, status="cancelled")
    note = Notification.objects.get(event_key=f"export:{job.pk}:cancelled")
    wait_toasted(page, note)
    assert "cancelled" in note.title


@pytest.mark.parametrize("kind", KINDS)
def test_progress_and_completion_arrive_by_polling_when_the_socket_is_blocked(
    kind, user, signed_in
):
    scene = make_scene(user, kind)
    page = signed_in().new_page()
    page.route_web_socket(re.compile(r"/ws/notifications"), lambda ws: ws.close())
    page.goto(scene.elsewhere)
    page.wait_for_function("document.body.dataset.hub === 'polling'")
    job = scene.start(user)
    first = wait_progress_above(page, job.pk, 0)
    wait_progress_above(page, job.pk, first)
    wait_finished(job, page)
    wait_toasted(page, completion_note(job))
    assert page.evaluate("document.body.dataset.hub") == "polling"


@pytest.mark.parametrize("kind", KINDS)
def test_several_exports_at_once_all_show_and_all_finish(kind, user, signed_in):
    scene = make_scene(user, kind)
    page = signed_in().new_page()
    page.goto(scene.elsewhere)
    settled(page)
    jobs = [scene.start(user) for _ in range(3)]
    for job in jobs:
        expect(job_row(page, job.pk)).to_be_visible()
    for job in jobs:
        wait_finished(job, page)
        wait_toasted(page, completion_note(job))
    expect(page.locator("#export-indicator")).to_be_hidden()
