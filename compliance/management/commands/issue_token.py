import argparse

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from compliance.tokens import MAX_EXPIRES_IN_DAYS, token_issue


def days(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a whole number of days") from None
    if not 1 <= number <= MAX_EXPIRES_IN_DAYS:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_EXPIRES_IN_DAYS} days, not {number}")
    return number


class Command(BaseCommand):
    help = (
        "Issue an API token for a user and print it. The key is printed alone on the last line and is not stored: "
        "copy it now. Clients send it as 'Authorization: Token KEY'."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--read-only", action="store_true", help="Only safe requests (GET, HEAD, OPTIONS).")
        parser.add_argument("--name", help="What the token is for (default: 'issue_token <date and time>').")
        parser.add_argument("--expires-in-days", type=days, metavar="D", help="Expire after D days (default: never).")
        parser.add_argument(
            "--issued-by",
            metavar="USERNAME",
            help="Who is issuing it, recorded on the token (default: nobody; the shell has no Django user).",
        )

    def handle(self, *args, username, read_only, name, expires_in_days, issued_by, **options):
        user = self.get_user(username)
        issuer = self.get_user(issued_by) if issued_by else None
        name = name or f"issue_token {timezone.now():%Y-%m-%d %H:%M} UTC"
        try:
            token, key = token_issue(
                user=user, name=name, read_only=read_only, expires_in_days=expires_in_days, issued_by=issuer
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None

        access = "read-only" if token.read_only else "read-write"
        expiry = f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "does not expire"
        self.stdout.write(f"Issued {access} token '{token.name}' ({token.key_prefix}…) for {username}; {expiry}.")
        self.stdout.write("The key is not stored: copy it now. Send it as 'Authorization: Token KEY'.")
        self.stdout.write(key)

    @staticmethod
    def get_user(username):
        User = get_user_model()
        try:
            return User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist:
            raise CommandError(f"No user named '{username}'.") from None
