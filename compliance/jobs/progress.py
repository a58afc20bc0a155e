"""Writing a job's progress so that the API can read it while the job is still running.

A job's work runs in one transaction (nothing is kept unless all of it is), and what a transaction writes is seen by
others only when it commits, so progress written through the job's own connection would appear all at once at the
end. Inside a transaction the progress goes through a second connection of its own, in autocommit mode:

- PostgreSQL: seen at once (the job's transaction does not lock its `Job` row). A write that would wait on a lock
  is dropped after 200 ms instead: progress is a hint, the outcome is written anyway.
- SQLite (the development database): not written while the job's transaction is open, so the progress shows its
  start and its end. SQLite has one writer: while the job has written (imports) a second connection cannot write,
  and a commit from a second connection while the job has only read (exports, reports) makes the job's own final
  write fail ("database is locked": its read snapshot is stale), as the worker test found.
"""

from __future__ import annotations

import logging

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.utils import timezone

logger = logging.getLogger(__name__)


class ProgressWriter:
    def __init__(self, job_id):
        self.job_id = job_id
        self._side = None
        self._refused = False

    def write(self, *, done: int, total: int | None, message: str) -> bool:
        """Store the progress; False when it could not be stored now."""
        from compliance.jobs.models import Job, JobState

        connection = connections[DEFAULT_DB_ALIAS]
        if not connection.in_atomic_block:
            Job.objects.filter(pk=self.job_id, state=JobState.RUNNING).update(
                progress_done=done, progress_total=total, progress_message=message, heartbeat_at=timezone.now()
            )
            return True
        if self._refused or connection.vendor != "postgresql":
            return False
        try:
            side = self._connection()
            table = connection.ops.quote_name(Job._meta.db_table)
            with side.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET progress_done = %s, progress_total = %s, progress_message = %s, "
                    "heartbeat_at = %s WHERE id = %s AND state = %s",
                    [
                        done,
                        total,
                        message,
                        timezone.now(),
                        Job._meta.pk.get_db_prep_value(self.job_id, side),
                        JobState.RUNNING,
                    ],
                )
        except DatabaseError as exc:
            # A lock timeout, or the server gone: stop trying until the job ends (its outcome is written anyway).
            logger.info("Progress of job %s not written now: %s", self.job_id, exc)
            self._refused = True
            return False
        return True

    def _connection(self):
        if self._side is None:
            main = connections[DEFAULT_DB_ALIAS]
            self._side = type(main)(dict(main.settings_dict), alias=f"{DEFAULT_DB_ALIAS}-job-progress")
            with self._side.cursor() as cursor:
                # Never wait long on a lock this job's own transaction might hold: drop the write instead.
                cursor.execute("SET lock_timeout = '200ms'")
        return self._side

    def close(self) -> None:
        if self._side is not None:
            self._side.close()
            self._side = None
