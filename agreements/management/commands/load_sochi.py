from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from agreements.demo import sochi


class Command(BaseCommand):
    help = (
        "Load the Sochi memorandum demo (agreement, clauses, zones, actors, places and the May 2019 events). "
        "Idempotent: records already present are left as they are, so running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help=f"Attribute the new records to this existing user (default: {sochi.DEMO_USERNAME!r}, created "
            "without a password if missing).",
        )

    def handle(self, *args, user=None, **options):
        account = None
        if user:
            account = get_user_model().objects.filter(username=user).first()
            if account is None:
                raise CommandError(f"No user named {user!r}.")
        counts = sochi.load(user=account, stdout=self.stdout)
        summary = sochi.describe(counts)
        if summary:
            self.stdout.write(self.style.SUCCESS(summary))
        else:
            self.stdout.write("Nothing to do: the Sochi demo is already loaded.")
