from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from agreements.importing import ImportRefused, import_violations

DEFAULT_USERNAME = "importer"


class ProgressBar:
    """A text progress bar on stderr, redrawn in place every `every` rows (and at the end)."""

    WIDTH = 30

    def __init__(self, stream, *, every: int | None = None):
        self.stream = stream
        self.every = every
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        every = self.every or max(1, min(100, total // 20))
        if done and done != total and done % every:
            return
        filled = self.WIDTH * done // total if total else self.WIDTH
        percent = 100 * done // total if total else 100
        line = f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total} rows ({percent}%)"
        self.stream.write(line, style_func=str, ending="")
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("", style_func=str)  # the line the bar was drawn on ends here


class Command(BaseCommand):
    help = (
        "Import violations from a CSV or XLSX file with our columns or ACLED-style columns (event_date, event_type, "
        "actor1, actor2, admin1, admin2, location, latitude, longitude, fatalities, source, notes). Actors and places "
        "are matched by name or alias; unknown ones are errors. All or nothing: if any row has an error nothing is "
        "imported. With --dry-run, shows what each row would create and writes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="A .csv or .xlsx file.")
        parser.add_argument("--agreement", required=True, metavar="SLUG", help="The agreement the violations breach.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check every row and show the result; write nothing."
        )
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help=f"Record the violations as reported by this user (default: {DEFAULT_USERNAME!r}, created without a "
            "password if missing).",
        )

    def handle(self, *args, file, agreement, dry_run, user=None, verbosity=1, **options):
        bar = ProgressBar(self.stderr)
        # One outer transaction, so a dry run that has to create the default user leaves nothing behind either.
        with transaction.atomic():
            account = self._user(user)
            try:
                report = import_violations(
                    file=file, agreement=agreement, user=account, dry_run=dry_run, progress=bar if verbosity else None
                )
            except (ImportRefused, OSError) as exc:
                raise CommandError(str(exc)) from exc
            finally:
                bar.finish()
            if not report.committed:
                transaction.set_rollback(True)

        for warning in report.warnings:
            self.stdout.write(self.style.WARNING(f"warning: {warning}"))
        for error in report.errors:
            self.stderr.write(self.style.ERROR(f"error: {error}"))
        if report.layout:
            self.stdout.write(f"Read {len(report.rows)} rows with {report.layout_name}.")
        for row in report.rows:
            if row.ok and (dry_run or verbosity >= 2):
                verb = "would create" if dry_run else "created"
                self.stdout.write(f"row {row.number}: {verb} {row.describe()}")
            for error in row.errors:
                self.stderr.write(self.style.ERROR(f"row {row.number}: error: {error}"))
            if verbosity >= 1:
                for warning in row.warnings:
                    self.stdout.write(self.style.WARNING(f"row {row.number}: warning: {warning}"))

        if dry_run:
            if report.ok:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Dry run: {report.violation_count} violations and {report.new_source_count} new sources "
                        "would be created. Nothing was written."
                    )
                )
                return
            raise CommandError(f"Dry run: {self._problems(report)}. Nothing was written.")
        if not report.committed:
            raise CommandError(f"Nothing was imported: {self._problems(report)}.")
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {report.violation_count} violations ({report.new_source_count} new sources) into "
                f"{report.agreement.slug}."
            )
        )

    @staticmethod
    def _problems(report) -> str:
        parts = []
        if report.errors:
            parts.append("the file cannot be imported")
        if report.error_rows:
            rows = report.error_rows
            numbers = ", ".join(str(row.number) for row in rows[:20]) + (" …" if len(rows) > 20 else "")
            parts.append(f"{len(rows)} row{'s' if len(rows) != 1 else ''} with errors ({numbers})")
        return "; ".join(parts)

    def _user(self, username):
        User = get_user_model()
        if username:
            account = User.objects.filter(username=username).first()
            if account is None:
                raise CommandError(f"No user named {username!r}.")
            return account
        account = User.objects.filter(username=DEFAULT_USERNAME).first()
        if account is None:
            account = User(username=DEFAULT_USERNAME)
            account.set_unusable_password()
            account.save()
            # The services ask the user's role: an import's entries are a monitor's.
            account.groups.add(*Group.objects.filter(name="monitor"))
        return account
