"""Send a plain info / warning / error notification to a user (operators' messages)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from config.errors import ApiError
from notifications import services
from notifications.publisher import publisher

SENDERS = {
    "info": services.notify_info,
    "warning": services.notify_warning,
    "error": services.notify_error,
}


class Command(BaseCommand):
    help = "Send a notification to a user: notify_user <username> <info|warning|error> <title>"

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("level", choices=sorted(SENDERS))
        parser.add_argument("title")
        parser.add_argument("--message", default="", help="A longer text under the title.")

    def handle(self, *args, username: str, level: str, title: str, message: str, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        try:
            notification = SENDERS[level](user=user, title=title, message=message)
        except ApiError as exc:
            raise CommandError(f"{exc.message} {exc.fields or ''}".strip()) from None
        # The push runs on a background thread; a command exits right away, so wait for it.
        if not publisher.flush(timeout=10):
            self.stderr.write("Saved, but the live push did not finish; tabs get it on resume.")
        self.stdout.write(f"Sent notification {notification.pk} to {username}.")
