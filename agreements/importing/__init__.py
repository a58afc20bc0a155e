"""Import of violations from CSV or XLSX: plain functions, no HTTP. The admin page, its background job and the
`import_violations` command are thin faces over `import_violations()`.

The package: `tables` reads the file (streamed) and tells its layout, `cells` reads one cell, `names` matches
actors and places, `readers` and `layouts` turn a row into what the services need (one reader per layout), and the
write is `bulk` (the default: batches, set-based) or `writing` (one row at a time through the services, the
reference the bulk path is tested against). The ACLED vocabulary is `agreements/acled.py`, shared with exports.

Two layouts are read, told apart by the header row (the first row of the file, or of the "Violations" sheet of a
workbook, else its first sheet):

- **ours** — the headers of `agreements.exports.VIOLATION_COLUMNS` (what our CSV/XLSX export writes), so an export
  can be edited and imported again. Required: `started_at`, `category`, `description`, and `place` or `latitude` +
  `longitude`. Read: `uuid` (kept as the public id when given; an id we already have is an error: imports only
  add), `agreement` (must be empty or the import's agreement), `ended_at`, `time_precision`, `clauses` (numbers),
  `perpetrators`, `affected_actors` (names, "; "), `place`, `admin1`, `admin2`, `latitude`, `longitude`,
  `location_precision`, every count column, `sources` ("publisher: title [A1] url", " | "), `retracted` (a
  retracted record is not imported: the row is an error). Computed or workflow columns (`in_zone`, `zone`,
  `status`, `version`, `updated_at`) are ignored: an import records "reported" violations.
- **ACLED-style** — `event_date, event_type, sub_event_type, actor1, assoc_actor_1, actor2, assoc_actor_2, admin1,
  admin2, admin3, location, latitude, longitude, geo_precision, time_precision, fatalities, source, notes` (and
  our `clauses` column, which our ACLED-style export adds). Required: `event_date`, `event_type`, `notes`, and
  `location` or coordinates. Optional extras: `category` (ours, overrides the event type), `source_grade` (e.g.
  B2), `source_kind`, `source_url`. ACLED's other columns (event ids, year, disorder type, interaction codes …)
  are ignored.

How values are read:

- Actors and places are matched by name or alias (also an actor's short name or slug), ignoring case, accents
  and spacing. A name that matches nothing, or several records, is a row error: nothing is ever created silently.
  A place's candidates are narrowed by the row's admin1/admin2/admin3 when it gives them. With no location but
  an admin1, the governorate-level place of that admin1 is used (kind "admin1").
- ACLED event types map to our categories by reversing `acled.ACLED_EVENT_TYPES` (`acled.category_for_acled`);
  where several of ours map to one ACLED pair the default is "other" if it is among them, else the first (an
  "Air/drone strike" is an airstrike, an "Armed clash" a ground assault).
- Coordinates equal to the matched place's are not stored as the violation's own (it takes its place's), so an
  export imports back as it was; coordinates more than `FAR_FROM_PLACE_KM` from the place give a warning.
- `fatalities` is the best estimate of killed; ACLED writes 0 when none are reported, so 0 reads as "not
  reported" (empty), as our ACLED export writes it.
- An ACLED `source` cell lists publishers; each becomes a source titled "<publisher>, report of <date>" (one per
  publisher and day, reused across rows), graded F6 ("cannot be judged") unless `source_grade` says otherwise.
  Sources are reused by the services' one rule (`services.source_known`): by URL, else by publisher and title.
- A row that cites no clause is imported with a warning: it counts under "no clause cited" in reports.
- Dates: ISO 8601 (`2019-05-06`, `2019-05-06T04:00:00Z`; a time without zone is UTC) or ACLED's "06 May 2019";
  workbook date cells as they are (in UTC). A leading apostrophe our export adds against spreadsheet formulas is
  removed again.

An import is all or nothing and runs in one transaction, of any length: the file is read row by row and written
in batches (`bulk.BulkWriter`), so memory stays bounded. Every row is validated, and a batch the database refuses
is written again row by row through `agreements.services`, each in a savepoint, so the report lists every error of
the file. At the end the whole transaction is rolled back when the run is a dry run or any row failed, so a dry
run validates exactly what a real run would (constraints, zones, sources) and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from agreements.acled import category_for_acled
from agreements.importing.bulk import BulkWriter
from agreements.importing.layouts import READERS
from agreements.importing.names import fold
from agreements.importing.readers import References
from agreements.importing.results import ACLED, LAYOUT_NAMES, OURS, ImportRefused, ImportReport, RowResult
from agreements.importing.tables import detect_layout, open_binary, read_table
from agreements.importing.writing import summarise, write_row
from agreements.models import Agreement

BULK = "bulk"
ONE_BY_ONE = "services"

__all__ = [
    "ACLED",
    "BULK",
    "LAYOUT_NAMES",
    "ONE_BY_ONE",
    "OURS",
    "ImportRefused",
    "ImportReport",
    "RowResult",
    "category_for_acled",
    "detect_layout",
    "fold",
    "import_violations",
]


def _agreement(agreement) -> Agreement:
    if isinstance(agreement, Agreement):
        return agreement
    found = Agreement.objects.filter(slug=str(agreement)).first()
    if found is None:
        raise ImportRefused(f"No agreement with slug {agreement!r}.")
    return found


def import_violations(
    *,
    file,
    agreement: Agreement | str,
    user,
    dry_run: bool,
    progress: Callable[[int, int], None] | None = None,
    method: str = BULK,
    batch_size: int | None = None,
) -> ImportReport:
    """Import the violations of a CSV or XLSX file into `agreement` (an Agreement or its slug), as `user`.

    `file` is a path, bytes or a binary file object. All or nothing: the rows are written in one transaction that
    is kept only when this is not a dry run and no row has an error. `progress(done, total)` is called as rows are
    read. `method` is BULK (batches) or ONE_BY_ONE (each row through the services); both write the same rows.
    Raises ImportRefused only when the import cannot start (unknown agreement); everything wrong with the file is
    in the report.
    """
    agreement = _agreement(agreement)
    report = ImportReport(agreement=agreement, dry_run=dry_run)
    try:
        with open_binary(file) as stream, read_table(stream) as table:
            report.warnings.extend(table.warnings)
            layout = _check_header(report, table)
            if layout is not None:
                _import_rows(report, table, layout, user=user, progress=progress, method=method, batch_size=batch_size)
    except (ValueError, OSError) as exc:
        report.errors.append(str(exc))
        report.committed = False
    if not report.committed:
        for row in report.rows:
            row.violation_uuid = None  # rolled back: the id named nothing
    return report


def _check_header(report: ImportReport, table) -> str | None:
    if not table.headers:
        report.errors.append("The file is empty.")
        return None
    layout, errors, warnings = detect_layout(table.headers)
    report.layout = layout or ""
    report.errors.extend(errors)
    report.warnings.extend(warnings)
    return None if report.errors else layout


def _import_rows(report: ImportReport, table, layout: str, *, user, progress, method: str, batch_size) -> None:
    with transaction.atomic():
        reader = READERS[layout](references=References(report.agreement), headers=table.headers)
        writer = None
        if method == BULK:
            options = {"batch_size": batch_size} if batch_size else {}
            writer = BulkWriter(
                agreement=report.agreement,
                user=user,
                zones=reader.references.zones,
                field_columns=reader.field_columns,
                **options,
            )
        if progress is not None:
            progress(0, table.total)
        done = 0
        for done, (number, values) in enumerate(table.rows, start=1):
            result = RowResult(number=number)
            report.rows.append(result)
            prepared = reader.read(values, result)
            result.summary = summarise(prepared)
            if result.ok and writer is not None:
                writer.add(prepared, result)
            elif result.ok:
                write_row(prepared, user=user, result=result, field_columns=reader.field_columns)
            if progress is not None and (done % 100 == 0 or done == table.total):
                progress(done, max(done, table.total))
        if not done:
            report.errors.append("The file has a header row but no data rows.")
        if writer is not None:
            writer.finish()
        if progress is not None:
            progress(done, done)
        report.committed = not dry_run_or_failed(report)
        if not report.committed:
            transaction.set_rollback(True)


def dry_run_or_failed(report: ImportReport) -> bool:
    return report.dry_run or not report.ok
