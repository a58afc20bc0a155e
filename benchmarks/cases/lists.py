"""The violation list against its floor: the same page built as JSON by PostgreSQL alone (`json_agg`, one
statement, the same rows, joins and links), measured turn about with the API's answer."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from benchmarks.common import Line, median_seconds, side_by_side

URL = "/api/v1/violations/"

# One statement that builds a page as the API shows it; {where} picks the page's ids as the API's filter does.
FLOOR = """
SELECT json_agg(row_to_json(t)) FROM (
  SELECT v.uuid AS id, json_build_object('slug', a.slug, 'title', a.title) AS agreement,
    (SELECT coalesce(json_agg(json_build_object('id', c.id, 'number', c.number, 'title', c.title)
       ORDER BY c.position, c.number), '[]') FROM agreements_violation_clauses vc
       JOIN agreements_clause c ON c.id = vc.clause_id WHERE vc.violation_id = v.id) AS clauses,
    v.category,
    (SELECT coalesce(json_agg(json_build_object('id', x.id, 'slug', x.slug, 'name', x.name) ORDER BY x.name), '[]')
       FROM agreements_violation_perpetrators vp JOIN agreements_actor x ON x.id = vp.actor_id
       WHERE vp.violation_id = v.id) AS perpetrators,
    (SELECT coalesce(json_agg(json_build_object('id', x.id, 'slug', x.slug, 'name', x.name) ORDER BY x.name), '[]')
       FROM agreements_violation_affected_actors va JOIN agreements_actor x ON x.id = va.actor_id
       WHERE va.violation_id = v.id) AS affected_actors,
    v.description, v.started_at, v.ended_at, v.time_precision,
    CASE WHEN p.id IS NULL THEN NULL ELSE json_build_object('id', p.id, 'name', p.name, 'admin1', p.admin1) END
      AS place,
    v.latitude, v.longitude, v.location_precision, v.in_zone,
    CASE WHEN z.id IS NULL THEN NULL ELSE json_build_object('slug', z.slug, 'name', z.name) END AS zone,
    v.killed_low, v.killed_best, v.killed_high, v.injured_low, v.injured_best, v.injured_high,
    v.civilians_killed_low, v.civilians_killed_best, v.civilians_killed_high, v.civilians_injured_low,
    v.civilians_injured_best, v.civilians_injured_high, v.displaced, v.health_facilities_hit,
    v.education_facilities_hit, v.idp_sites_hit, v.camps_hit, v.status, ru.username AS reported_by,
    vu.username AS verified_by, v.verified_at, v.retracted_at IS NOT NULL AS retracted, v.retracted_at,
    v.retraction_reason, v.version, v.created_at, v.updated_at,
    (SELECT coalesce(json_agg(json_build_object('id', s.id, 'publisher', s.publisher, 'title', s.title,
       'url', s.url, 'published_on', s.published_on, 'kind', s.kind, 'reliability', s.reliability,
       'credibility', s.credibility, 'grade', s.reliability || s.credibility, 'sha256', s.sha256, 'note', vs.note)
       ORDER BY vs.id), '[]')
       FROM agreements_violationsource vs JOIN agreements_source s ON s.id = vs.source_id
       WHERE vs.violation_id = v.id AND vs.retired_at IS NULL) AS sources
  FROM agreements_violation v
  JOIN agreements_agreement a ON a.id = v.agreement_id
  LEFT JOIN agreements_place p ON p.id = v.place_id
  LEFT JOIN agreements_zone z ON z.id = v.zone_id
  JOIN auth_user ru ON ru.id = v.reported_by_id
  LEFT JOIN auth_user vu ON vu.id = v.verified_by_id
  WHERE v.id IN ({ids})
  ORDER BY v.started_at DESC, v.id DESC
) t
"""

DASHBOARD_FILTERS = {
    "actor": {"actor": "syrian-arab-army"},
    "category": {"category": "airstrike"},
    "dates": {"occurred_after": "2019-05-01", "occurred_before": "2019-05-31"},
    "in_zone": {"in_zone": "true"},
    "bbox": {"bbox": "36.4,35.3,36.8,35.7"},
    "updated_since": {"updated_since": "2019-01-01T00:00:00Z"},
}


def page_ids_sql(params: dict, size: int) -> tuple[str, tuple]:
    """The ids of the page the API answers for `params`, as the API's own filter selects them."""
    from urllib.parse import urlencode

    from django.http import QueryDict

    from agreements.models import Violation
    from compliance.api.filters import ViolationFilter

    filterset = ViolationFilter(QueryDict(urlencode(params)), queryset=Violation.objects.all())
    assert filterset.is_valid(), filterset.errors
    queryset = filterset.qs.order_by("-started_at", "-id").values("id")[:size]
    return queryset.query.sql_with_params()


def floor_runner(params: dict, size: int):
    ids_sql, ids_params = page_ids_sql(params, size)
    sql = FLOOR.format(ids=ids_sql)

    def run():
        with connection.cursor() as cursor:
            cursor.execute(sql, ids_params)
            return cursor.fetchone()[0]

    return run


def api_runner(ctx, params: dict):
    def run():
        response, body = ctx.get(URL + "?" + "&".join(f"{k}={v}" for k, v in params.items()))
        assert response.status_code == 200, body[:300]
        return body

    return run


def page_vs_floor(ctx, name: str, params: dict, size: int, target: float, repeat: int = 7) -> Line:
    ours, floor = side_by_side(api_runner(ctx, {**params, "page_size": size}), floor_runner(params, size), repeat)
    ratio = ours / floor
    return Line(name, ours * 1000, "ms", f"<= {target}x floor", ratio <= target, floor * 1000)


def query_counts(ctx) -> Line:
    counts = {}
    for size in (10, 100, 500):
        with CaptureQueriesContext(connection) as captured:
            ctx.get(f"{URL}?page_size={size}")
        counts[size] = len(captured)
    flat = len(set(counts.values())) == 1
    shown = "/".join(str(counts[size]) for size in (10, 100, 500))
    return Line("list: queries for pages of 10/100/500", counts[500], "queries", "constant", flat, note=shown)


def deep_page(ctx, first_ms: float, repeat: int = 7) -> Line:
    """The page 5,000 pages of 100 in (or as deep as the data goes), reached by its cursor as a client would."""
    from base64 import b64encode
    from urllib.parse import quote, urlencode

    from agreements.models import Violation

    total = Violation.objects.standing().count()
    depth = min(5000 * 100, total - 100)
    started_at = Violation.objects.standing().order_by("-started_at", "-id").values_list("started_at", flat=True)[depth]
    position = started_at.isoformat().replace("+00:00", "Z")
    cursor = quote(b64encode(urlencode({"p": position}).encode()).decode())
    url = f"{URL}?page_size=100&cursor={cursor}"

    def run():
        response, body = ctx.get(url)
        assert response.status_code == 200, body[:300]

    deep = median_seconds(run, repeat) * 1000
    ok = deep <= 1.5 * first_ms
    return Line(f"list: page at row {depth:,} vs first", deep, "ms", "<= 1.5x first page", ok, first_ms)


def not_modified(ctx) -> Line:
    response, _ = ctx.get(URL)
    etag = response["ETag"]
    times = []
    for _ in range(20):
        with CaptureQueriesContext(connection) as captured:
            answer, _ = ctx.get(URL, HTTP_IF_NONE_MATCH=etag)
        assert answer.status_code == 304
        times.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
    times.sort()
    database_ms = times[len(times) // 2]
    return Line("list: 304, database time", database_ms, "ms", "< 5 ms", database_ms < 5)


def cached_page(ctx, built_ms: float, repeat: int = 20) -> Line:
    """The same page from the answer cache (what a second dashboard polling it gets until the record changes)."""
    from django.core.cache import cache
    from django.test import override_settings

    url = f"{URL}?page_size=100"
    with override_settings(API_ANSWER_CACHE_MAX_BYTES=1024 * 1024):
        cache.clear()
        ctx.get(url)
        cached = median_seconds(lambda: ctx.get(url), repeat) * 1000
    return Line("list: page of 100 from the answer cache", cached, "ms", "< built page", cached < built_ms, built_ms)


def cases(ctx):
    first = page_vs_floor(ctx, "list: page of 100 vs json_agg", {}, 100, 2.0)
    yield first
    ctx.extra["list_page_ms"] = first.figure
    yield query_counts(ctx)
    yield deep_page(ctx, first.figure)
    for name, params in DASHBOARD_FILTERS.items():
        yield page_vs_floor(ctx, f"list: filter {name} vs json_agg", params, 100, 3.0)
    yield not_modified(ctx)
    yield cached_page(ctx, first.figure)
