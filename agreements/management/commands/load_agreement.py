from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from agreements.demo import loading
from agreements.demo.reading import DataError


class Command(BaseCommand):
    help = (
        "Load an agreement from a directory of data files (agreement, clauses, zones, actors, places, sources and "
        "events; the format is in agreements/demo/reading.py, agreements/demo/sochi/ is an example). Idempotent: "
        "records already present are left as they are, so running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path, help="The directory of YAML or JSON data files.")
        self.add_user_argument(parser)

    def add_user_argument(self, parser):
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help="Attribute the new records to this existing user (default: the files' demo_user, 'sochi-demo' for "
            "the Sochi demo, created without a password if missing).",
        )

    def handle(self, *args, directory, user=None, **options):
        account = None
        if user:
            account = get_user_model().objects.filter(username=user).first()
            if account is None:
                raise CommandError(f"No user named {user!r}.")
        try:
            counts = loading.load(directory, user=account, stdout=self.stdout)
        except DataError as exc:
            raise CommandError(f"Nothing loaded: {exc}") from exc
        summary = loading.describe(counts)
        if summary:
            self.stdout.write(self.style.SUCCESS(summary))
        else:
            self.stdout.write(self.nothing_to_do(directory))

    def nothing_to_do(self, directory) -> str:
        return f"Nothing to do: {directory} is already loaded."
