from django.conf import settings
from django.core.management.base import BaseCommand

from compliance.jobs.upkeep import fail_stale, prune_finished


class Command(BaseCommand):
    help = (
        "Fail running jobs whose worker stopped (no sign of life for JOB_STALE_MINUTES) and delete finished jobs "
        "and their files older than JOB_KEEP_DAYS. Run before starting workers and from cron."
    )

    def handle(self, *args, **options):
        failed, pruned = fail_stale(), prune_finished()
        self.stdout.write(
            f"{failed} stale job(s) failed (no sign of life for {settings.JOB_STALE_MINUTES} min); "
            f"{pruned} finished job(s) older than {settings.JOB_KEEP_DAYS} days deleted."
        )
