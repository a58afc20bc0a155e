"""Violations exported as CSV, XLSX and GeoJSON: plain functions over a queryset, called by the API views and the
export job. The package: `columns` (what is exported), `rows` (reading violations in chunks with their links),
`values` (how a value is written per format), `csv_files`, `xlsx`, `geojson`, and `copy_sql` / `copy_cells` (the
CSV through PostgreSQL's COPY). The names below are importable from `agreements.exports` itself.

The columns are declared once, as `Column`s whose `value` returns a plain Python value (str, int, float, bool,
date, datetime or None), and every format renders those values in its own way:

- CSV (`iter_csv`): streamed, UTF-8 with a BOM (so Excel reads it as UTF-8); booleans as `true`/`false`, None as
  an empty cell, datetimes as ISO 8601 in UTC (`2019-05-06T04:00:00Z`), strings formula-escaped (`escape_cell`).
  `csv_stream` is what the API sends: on PostgreSQL the same bytes produced by `COPY … TO STDOUT`
  (agreements/exports/copy_sql.py), elsewhere `iter_csv` in chunks.
- XLSX (`xlsx_bytes`): native numbers, booleans, dates and datetimes (naive, in UTC), strings formula-escaped;
  refused above a row limit (`ExportTooLarge`), since a workbook is built whole before it is sent.
- GeoJSON (`iter_geojson`, streamed; `geojson_feature_collection`, one dict): one Point feature per violation,
  JSON types, nothing escaped.

A format whose rows are rendered in Python (XLSX, GeoJSON) is refused above a row limit (`check_size`, a count that
stops at the limit), since past it the answer would outlast the worker's timeout and be cut off.

Two column lists:

`VIOLATION_COLUMNS` — ours, one column per field of the record (counts as low / best / high, None when not
reported; the killed / injured totals by the casualty rule of `models.violations.casualty_total`: the civilian figure
when only it is reported), with links flattened to text: clauses by number, actors by name, sources as
"publisher: title [grade] url", several joined with "; " (sources with " | ").

`ACLED_COLUMNS` — named as in ACLED's data export, so tools written for ACLED read our files:

    event_id_cnty   our uuid (ACLED's own ids look like SYR12345; ours are never confused with them)
    event_date      started_at's date in UTC, YYYY-MM-DD
    year            started_at's year
    time_precision  1 when our precision is exact or day, 2 week, 3 month (ACLED's codes)
    disorder_type   "Political violence", or "Strategic developments" for that event type (as ACLED codes it)
    event_type      from our category, by `ACLED_EVENT_TYPES`; a territorial capture is "Government regains
    sub_event_type  territory" when actor1 is a state, state force or unit, else "Non-state actor overtakes territory"
    actor1          the first alleged perpetrator by name (alphabetical, case-insensitive)
    assoc_actor_1   the other perpetrators, "; "
    actor2          the first affected actor by name
    assoc_actor_2   the other affected actors, "; "
    country         the place's country by name ("SY" → "Syria"), else its ISO code
    admin1..admin3  the place's administrative areas
    location        the place's name
    latitude        the violation's own coordinates, else its place's
    longitude
    geo_precision   1 when our location precision is exact or town, 2 district, 3 region (ACLED's codes)
    source          the sources' publishers, "; " (each publisher once)
    notes           our description
    fatalities      killed (best estimate) by the casualty rule (civilians killed when only they are reported);
                    0 when not reported, ACLED's convention (ours says None)
    clauses         ours: the clause numbers, "; "
    in_zone         ours: true / false / empty when the location is too coarse to tell
    status          ours: reported, verified, disputed, rejected
"""

from agreements.acled import (
    ACLED_EVENT_TYPES,
    ACLED_GEO_PRECISION,
    ACLED_STATE_CAPTURE,
    ACLED_TIME_PRECISION,
    BATTLES,
    COUNTRY_NAMES,
    EXPLOSIONS,
    STATE_ACTOR_KINDS,
    STRATEGIC,
)
from agreements.exports.columns import (
    ACLED_COLUMNS,
    FORMULA_PREFIXES,
    UTF8_BOM,
    VIOLATION_COLUMNS,
    XLSX_MAX_CELL_CHARS,
    Column,
    Value,
    acled_event_type,
    name_order,
)
from agreements.exports.csv_files import (
    ExportTooLarge,
    check_size,
    count_up_to,
    csv_header,
    csv_stream,
    in_chunks,
    iter_csv,
)
from agreements.exports.geojson import geojson_feature_collection, iter_geojson
from agreements.exports.rows import export_queryset
from agreements.exports.values import escape_cell
from agreements.exports.xlsx import xlsx_bytes

__all__ = [
    "ACLED_COLUMNS",
    "ACLED_EVENT_TYPES",
    "ACLED_GEO_PRECISION",
    "ACLED_STATE_CAPTURE",
    "ACLED_TIME_PRECISION",
    "BATTLES",
    "COUNTRY_NAMES",
    "EXPLOSIONS",
    "FORMULA_PREFIXES",
    "STATE_ACTOR_KINDS",
    "STRATEGIC",
    "UTF8_BOM",
    "VIOLATION_COLUMNS",
    "XLSX_MAX_CELL_CHARS",
    "Column",
    "ExportTooLarge",
    "Value",
    "acled_event_type",
    "check_size",
    "count_up_to",
    "csv_header",
    "csv_stream",
    "escape_cell",
    "export_queryset",
    "geojson_feature_collection",
    "in_chunks",
    "iter_csv",
    "iter_geojson",
    "name_order",
    "xlsx_bytes",
]
