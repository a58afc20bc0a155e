"""The violation list's JSON rows, read as values rather than built as model instances and nested serializers.

On PostgreSQL the database builds each page's rows as JSON in one statement (`SQL_ROWS`), after the page's ids
are chosen by the API's own filters and cursor: two queries whatever the page size, and no per-row Python. On
SQLite a page is one query for the violations with their agreement, place, zone and people joined, and one per
kind of link (clauses, perpetrators, affected actors, cited sources) for the whole page.

Both give exactly what `ViolationSerializer` gives (the same fields, formats and order within each link);
`tests/agreements/test_violation_rows.py` holds them to each other, byte for byte, on both engines. The
serializer still serves details, writes, the browsable API and the schema.
"""

from collections import defaultdict
from zoneinfo import ZoneInfo

import orjson
from django.conf import settings
from django.db import connection

from agreements.models import Actor, Clause, Violation, ViolationSource
from agreements.models.violations import COUNT_FIELDS

_ZONE = ZoneInfo(settings.TIME_ZONE)

# What the page query reads; everything the ordering of a list may name is among them.
PAGE_FIELDS = (
    "id",
    "uuid",
    "agreement__slug",
    "agreement__title",
    "category",
    "description",
    "started_at",
    "ended_at",
    "time_precision",
    "place_id",
    "place__name",
    "place__admin1",
    "latitude",
    "longitude",
    "location_precision",
    "in_zone",
    "zone_id",
    "zone__slug",
    "zone__name",
    *COUNT_FIELDS,
    "status",
    "reported_by__username",
    "verified_by__username",
    "verified_at",
    "retracted_at",
    "retraction_reason",
    "version",
    "created_at",
    "updated_at",
)


def _when(value):
    # What DRF's DateTimeField writes (ISO 8601 in the current time zone, "+00:00" as "Z"), without its per-value
    # time zone lookups, which cost more than the rest of the row.
    if value is None:
        return None
    text = value.astimezone(_ZONE).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _number(value):
    return None if value is None else float(value)


def _ordering(model, through_field: str) -> list[str]:
    # Each link is read in the order its prefetch would give: the linked model's own ordering.
    return [
        f"{'-' if name.startswith('-') else ''}{through_field}__{name.lstrip('-')}" for name in model._meta.ordering
    ]


def _links(field: str, model, brief: tuple[str, ...], ids: list[int]) -> dict[int, list[dict]]:
    through = getattr(Violation, field).through
    target = through._meta.get_field(model._meta.model_name).name
    rows = (
        through.objects.filter(violation_id__in=ids)
        .order_by(*_ordering(model, target))
        .values_list("violation_id", *(f"{target}__{name}" for name in brief))
    )
    linked = defaultdict(list)
    for violation_id, *values in rows:
        linked[violation_id].append(dict(zip(brief, values, strict=True)))
    return linked


def _sources(ids: list[int]) -> dict[int, list[dict]]:
    rows = (
        ViolationSource.objects.filter(violation_id__in=ids)
        .order_by("id")
        .values_list(
            "violation_id",
            "source_id",
            "source__publisher",
            "source__title",
            "source__url",
            "source__published_on",
            "source__kind",
            "source__reliability",
            "source__credibility",
            "source__sha256",
            "note",
        )
    )
    cited = defaultdict(list)
    for violation_id, pk, publisher, title, url, published_on, kind, reliability, credibility, sha256, note in rows:
        cited[violation_id].append(
            {
                "id": pk,
                "publisher": publisher,
                "title": title,
                "url": url,
                "published_on": published_on.isoformat() if published_on else None,
                "kind": kind,
                "reliability": reliability,
                "credibility": credibility,
                "grade": f"{reliability}{credibility}",
                "sha256": sha256,
                "note": note,
            }
        )
    return cited


def _row(v: dict, clauses, perpetrators, affected, sources) -> dict:
    return {
        "id": str(v["uuid"]),
        "agreement": {"slug": v["agreement__slug"], "title": v["agreement__title"]},
        "clauses": clauses,
        "category": v["category"],
        "perpetrators": perpetrators,
        "affected_actors": affected,
        "description": v["description"],
        "started_at": _when(v["started_at"]),
        "ended_at": _when(v["ended_at"]),
        "time_precision": v["time_precision"],
        "place": None
        if v["place_id"] is None
        else {"id": v["place_id"], "name": v["place__name"], "admin1": v["place__admin1"]},
        "latitude": _number(v["latitude"]),
        "longitude": _number(v["longitude"]),
        "location_precision": v["location_precision"],
        "in_zone": v["in_zone"],
        "zone": None if v["zone_id"] is None else {"slug": v["zone__slug"], "name": v["zone__name"]},
        **{field: v[field] for field in COUNT_FIELDS},
        "status": v["status"],
        "reported_by": v["reported_by__username"],
        "verified_by": v["verified_by__username"],
        "verified_at": _when(v["verified_at"]),
        "retracted": v["retracted_at"] is not None,
        "retracted_at": _when(v["retracted_at"]),
        "retraction_reason": v["retraction_reason"],
        "version": v["version"],
        "created_at": _when(v["created_at"]),
        "updated_at": _when(v["updated_at"]),
        "sources": sources,
    }


def violation_rows(page: list[dict]) -> list[dict]:
    """The JSON rows of a page read with `values(*PAGE_FIELDS)`, in the page's order."""
    ids = [v["id"] for v in page]
    if not ids:
        return []
    clauses = _links("clauses", Clause, ("id", "number", "title"), ids)
    perpetrators = _links("perpetrators", Actor, ("id", "slug", "name"), ids)
    affected = _links("affected_actors", Actor, ("id", "slug", "name"), ids)
    sources = _sources(ids)
    return [
        _row(
            v,
            clauses.get(v["id"], []),
            perpetrators.get(v["id"], []),
            affected.get(v["id"], []),
            sources.get(v["id"], []),
        )
        for v in page
    ]


# The fields any ordering of the list may name (the cursor reads its position from them), and the id.
ORDER_FIELDS = ("id", "started_at", "updated_at", "created_at", "killed_best")


def _sql_when(column: str) -> str:
    # DRF's format: ISO 8601 in UTC (the connection's time zone) with "Z", microseconds only when there are some.
    utc = f"({column} AT TIME ZONE 'UTC')"
    fraction = f"CASE WHEN date_part('microseconds', {utc})::int %% 1000000 = 0 THEN '' ELSE to_char({utc}, '.US') END"
    return f"""(to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS') || {fraction} || 'Z')"""


def _sql_actors(link_table: str) -> str:
    return f"""(SELECT coalesce(json_agg(json_build_object('id', x.id, 'slug', x.slug, 'name', x.name)
         ORDER BY x.name), '[]') FROM {link_table} l JOIN agreements_actor x ON x.id = l.actor_id
         WHERE l.violation_id = v.id)"""


SQL_ROWS = f"""
SELECT coalesce(json_agg(row_to_json(t) ORDER BY array_position(%s::bigint[], t.pk)), '[]')::text FROM (
  SELECT v.id AS pk, v.uuid::text AS id, json_build_object('slug', a.slug, 'title', a.title) AS agreement,
    (SELECT coalesce(json_agg(json_build_object('id', c.id, 'number', c.number, 'title', c.title)
       ORDER BY ca.signed_on DESC, ca.slug, c.position, c.number), '[]')
       FROM agreements_violation_clauses l JOIN agreements_clause c ON c.id = l.clause_id
       JOIN agreements_agreement ca ON ca.id = c.agreement_id WHERE l.violation_id = v.id) AS clauses,
    v.category, {_sql_actors("agreements_violation_perpetrators")} AS perpetrators,
    {_sql_actors("agreements_violation_affected_actors")} AS affected_actors,
    v.description, {_sql_when("v.started_at")} AS started_at, {_sql_when("v.ended_at")} AS ended_at,
    v.time_precision,
    CASE WHEN p.id IS NULL THEN NULL ELSE json_build_object('id', p.id, 'name', p.name, 'admin1', p.admin1) END
      AS place,
    v.latitude::float8 AS latitude, v.longitude::float8 AS longitude, v.location_precision, v.in_zone,
    CASE WHEN z.id IS NULL THEN NULL ELSE json_build_object('slug', z.slug, 'name', z.name) END AS zone,
    {", ".join(f"v.{field}" for field in COUNT_FIELDS)},
    v.status, ru.username AS reported_by, vu.username AS verified_by, {_sql_when("v.verified_at")} AS verified_at,
    v.retracted_at IS NOT NULL AS retracted, {_sql_when("v.retracted_at")} AS retracted_at, v.retraction_reason,
    v.version, {_sql_when("v.created_at")} AS created_at, {_sql_when("v.updated_at")} AS updated_at,
    (SELECT coalesce(json_agg(json_build_object('id', s.id, 'publisher', s.publisher, 'title', s.title,
       'url', s.url, 'published_on', s.published_on, 'kind', s.kind, 'reliability', s.reliability,
       'credibility', s.credibility, 'grade', s.reliability || s.credibility, 'sha256', s.sha256, 'note', l.note)
       ORDER BY l.id), '[]')
       FROM agreements_violationsource l JOIN agreements_source s ON s.id = l.source_id
       WHERE l.violation_id = v.id AND l.retired_at IS NULL) AS sources
  FROM agreements_violation v
  JOIN agreements_agreement a ON a.id = v.agreement_id
  LEFT JOIN agreements_place p ON p.id = v.place_id
  LEFT JOIN agreements_zone z ON z.id = v.zone_id
  JOIN auth_user ru ON ru.id = v.reported_by_id
  LEFT JOIN auth_user vu ON vu.id = v.verified_by_id
  WHERE v.id = ANY(%s::bigint[])
) t
"""


def sql_rows(ids: list[int]) -> list[dict]:
    """The rows of these violations, in this order, as PostgreSQL builds them."""
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(SQL_ROWS, [ids, ids])
        text = cursor.fetchone()[0]
    rows = orjson.loads(text)  # text, not json: psycopg would parse it with the slower standard library
    for row in rows:
        del row["pk"]
    return rows


def page_rows(paginate, queryset) -> list[dict]:
    """The JSON rows of the page that `paginate` (the view's paginator) picks from the filtered `queryset`."""
    if connection.vendor == "postgresql":
        # The cursor's position is read off the ordering's fields: those the filtered queryset is ordered by (the
        # paginator orders the same way), not every field an ordering may name — a datetime parsed is ~10 µs.
        named = [field.lstrip("-") for field in queryset.query.order_by if isinstance(field, str)]
        fields = dict.fromkeys(["id", *named]) if named else ORDER_FIELDS
        page = paginate(queryset.values(*fields))
        return sql_rows([v["id"] for v in page])
    return violation_rows(paginate(queryset.values(*PAGE_FIELDS)))


def detail_row(pk: int) -> dict:
    """One violation's JSON, as the list and the serializer give it (one query on PostgreSQL)."""
    if connection.vendor == "postgresql":
        return sql_rows([pk])[0]
    return violation_rows(list(Violation.objects.filter(pk=pk).values(*PAGE_FIELDS)))[0]
