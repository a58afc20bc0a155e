"""Background jobs: work that can outlive a request (issuing a report, exporting or importing violations) runs as a
task of Django's Tasks API (django-tasks, queued in the database by django-tasks-db, run by `manage.py db_worker`),
followed by a `Job` row that the API and the admin show.

- `models`: the `Job` (state, progress, result, error, who asked, when).
- `running`: `job_start` and `job_run`, the one write path, with the rules for failures and retries.
- `progress`: how progress is seen while the job's transaction is still open.
- `api`: `/api/v1/jobs/` and the 202 answer of endpoints that start jobs.
- `admin`: the jobs in the admin, with a progress bar.

The tasks themselves live beside the work they run: `reports/jobs.py`, `agreements/jobs.py`.
"""
