import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from agreements import synthetic
from agreements.models import Agreement


class Command(BaseCommand):
    help = "Add N synthetic violations to an agreement (benchmark data; needs its reference data, e.g. load_sochi)."

    def add_arguments(self, parser):
        parser.add_argument("--violations", type=int, required=True)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--agreement", default="sochi-2018")

    def handle(self, *args, violations, seed, agreement, **options):
        if violations < 1:
            raise CommandError("--violations must be at least 1.")
        try:
            target = Agreement.objects.get(slug=agreement)
        except Agreement.DoesNotExist:
            raise CommandError(f"No agreement {agreement!r}; run load_sochi first.") from None
        user, _ = get_user_model().objects.get_or_create(username="synthetic")
        # Written through the import's writer, which asks the services' rule (an active monitor records). No
        # password: nobody signs in as this user.
        user.is_active = True
        user.set_unusable_password()
        user.save()
        user.groups.add(*Group.objects.filter(name="monitor"))

        def progress(done, total):
            width = 30
            filled = width * done // total
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
            sys.stderr.flush()

        try:
            made = synthetic.generate(agreement=target, count=violations, seed=seed, user=user, progress=progress)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        sys.stderr.write("\n")
        self.stdout.write(f"Created {made} synthetic violations in {target.slug} (seed {seed}).")
