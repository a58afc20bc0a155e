import argparse
from datetime import date
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from agreements.models import Actor, Agreement
from reports import rendering
from reports.issuing import report_get_or_issue
from reports.rendering import FORMATS

CLI_USERNAME = "reports-cli"


def iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a date as YYYY-MM-DD") from None


class Command(BaseCommand):
    help = (
        "Issue a compliance report for an agreement and a period, and write it in one format. The report is "
        "stored (frozen data, SHA-256, who and when) like one issued through the API or the admin; issuing the "
        "same content again writes the report already issued. Prints the report's id and hash."
    )

    def add_arguments(self, parser):
        parser.add_argument("--agreement", required=True, metavar="SLUG", help="The agreement's slug, e.g. sochi-2018.")
        parser.add_argument("--from", dest="start", required=True, type=iso_date, metavar="YYYY-MM-DD")
        parser.add_argument("--to", dest="end", required=True, type=iso_date, metavar="YYYY-MM-DD")
        parser.add_argument("--format", dest="fmt", choices=FORMATS, default="pdf", help="Default: pdf.")
        parser.add_argument("--actor", metavar="SLUG", help="Only the violations alleged against this actor.")
        parser.add_argument(
            "-o",
            "--output",
            metavar="FILE",
            help="Where to write the file (default: the report's file name, in the current directory).",
        )
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help=f"Issue it as this existing user (default: {CLI_USERNAME!r}, created without a password if missing).",
        )

    def handle(self, *args, agreement, start, end, fmt, actor, output, user, **options):
        if end < start:
            raise CommandError(f"The period ends ({end}) before it starts ({start}).")
        found = Agreement.objects.filter(slug=agreement).first()
        if found is None:
            raise CommandError(f"No agreement with slug {agreement!r}.")
        subject = None
        if actor:
            subject = Actor.objects.filter(slug=actor).first()
            if subject is None:
                raise CommandError(f"No actor with slug {actor!r}.")
        issuer = self.issuer(user)

        self.stdout.write(f"Building the report on {found.slug} from {start} to {end}…")
        try:
            report, created = report_get_or_issue(
                agreement=found, start=start, end=end, actor=subject, user=issuer, formats=[fmt]
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"Rendering {fmt}…")
        rendered = rendering.render(report, fmt)
        path = Path(output or rendered.filename)
        try:
            path.write_bytes(rendered.content)
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror or exc}.") from None

        state = "Issued" if created else "Already issued (same content)"
        issued_at = f"{report.issued_at:%Y-%m-%d %H:%M} UTC"
        self.stdout.write(f"{state}: report {report.pk}, {report.title!r}, by {report.issued_by} at {issued_at}.")
        self.stdout.write(f"SHA-256 {report.sha256}")
        self.stdout.write(self.style.SUCCESS(f"Wrote {path} ({len(rendered.content):,} bytes)."))

    def issuer(self, username: str | None):
        User = get_user_model()
        if username:
            account = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
            if account is None:
                raise CommandError(f"No user named {username!r}.")
            return account
        account, created = User.objects.get_or_create(**{User.USERNAME_FIELD: CLI_USERNAME})
        if created:
            account.set_unusable_password()
            account.save(update_fields=["password"])
        return account
