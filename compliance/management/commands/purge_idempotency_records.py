from django.core.management.base import BaseCommand

from compliance.api.idempotency import purge_expired, ttl


class Command(BaseCommand):
    help = (
        "Delete the stored answers to Idempotency-Key requests older than IDEMPOTENCY_TTL_HOURS. Each process also "
        "does this now and then after a write; run it from cron where writes are rare."
    )

    def handle(self, *args, **options):
        deleted = purge_expired()
        self.stdout.write(f"Deleted {deleted} idempotency record(s) older than {ttl()}.")
