"""The change counter behind every ETag: renames of embedded records invalidate, a 304 stays one query, and the
counter moves only once a write is committed."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from agreements.models import Actor, Source
from compliance import freshness
from compliance.models import ChangeStamp
from tests.api_helpers import Api
from tests.factories import ActorFactory, AgreementFactory, ClauseFactory, PlaceFactory, SourceFactory, make_violation

VIOLATIONS = "/api/v1/violations/"


@pytest.fixture
def api(db):
    return Api()


@pytest.fixture
def violation(api):
    agreement = AgreementFactory()
    return make_violation(
        user=api.user("monitor"),
        agreement=agreement,
        place=PlaceFactory(name="Khan Shaykhun"),
        perpetrators=[ActorFactory(name="Syrian Arab Army")],
        clauses=[ClauseFactory(agreement=agreement)],
        sources=[SourceFactory(title="First report")],
    )


def cached(client, url, **params):
    first = client.get(url, params)
    assert first.status_code == 200, first.content[:300]
    assert client.get(url, params, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    return first


def after(client, url, first, **params):
    return client.get(url, params, HTTP_IF_NONE_MATCH=first["ETag"])


def rename_actor(actor_id):
    actor = Actor.objects.get(pk=actor_id)
    actor.name = "Syrian Arab Army (renamed)"
    actor.save()


def rename_place(violation):
    place = violation.place
    place.name = "Khan Sheikhoun"
    place.save()


def rename_source(violation):
    source = Source.objects.get(citations__violation=violation)
    source.title = "First report, corrected title"
    source.save()


def rename_clause(violation):
    clause = violation.clauses.get()
    clause.title = "Renamed clause"
    clause.save()


@pytest.mark.parametrize("rename", [rename_place, rename_source, rename_clause])
@pytest.mark.parametrize("url", ["list", "detail", "csv", "stats"])
def test_renaming_an_embedded_record_invalidates_lists_details_and_exports(api, violation, rename, url):
    client = api.client("analyst")
    target, params = {
        "list": (VIOLATIONS, {}),
        "detail": (f"{VIOLATIONS}{violation.uuid}/", {}),
        "csv": (VIOLATIONS, {"format": "csv"}),
        "stats": ("/api/v1/stats/violations", {"group_by": "actor"}),
    }[url]
    first = cached(client, target, **params)

    rename(violation)

    again = after(client, target, first, **params)
    assert again.status_code == 200
    assert again["ETag"] != first["ETag"]


def test_a_renamed_actor_is_in_the_list_that_was_cached(api, violation):
    client = api.client("analyst")
    first = cached(client, VIOLATIONS)
    actor_id = violation.perpetrators.get().pk

    rename_actor(actor_id)

    again = after(client, VIOLATIONS, first)
    assert again.status_code == 200
    assert "Syrian Arab Army (renamed)" in again.content.decode()


def test_a_detail_etag_still_names_the_version_for_if_match(api, violation):
    client = api.client("monitor")
    etag = client.get(f"{VIOLATIONS}{violation.uuid}/")["ETag"]
    rename_place(violation)  # the counter moves, the violation's version does not

    changed = client.patch(
        f"{VIOLATIONS}{violation.uuid}/", {"description": "Shelling, two rounds."}, format="json", HTTP_IF_MATCH=etag
    )

    assert changed.status_code == 200, changed.content[:300]
    assert changed.json()["version"] == 2


def test_a_304_reads_the_counter_and_no_record_however_many_rows(api, violation):
    client = api.client("analyst")
    first = client.get(VIOLATIONS)
    for _ in range(5):
        make_violation(user=api.user("monitor"), agreement=violation.agreement, place=violation.place)
    first = client.get(VIOLATIONS)

    with CaptureQueriesContext(connection) as captured:
        assert client.get(VIOLATIONS, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304

    touched = [q["sql"] for q in captured.captured_queries if '"agreements_' in q["sql"]]
    assert touched == []
    assert sum('"compliance_changestamp"' in q["sql"] for q in captured.captured_queries) == 1


@pytest.mark.django_db(transaction=True)
def test_the_counter_moves_after_a_commit_and_not_after_a_rollback():
    def counter():
        return ChangeStamp.objects.filter(pk=1).values_list("counter", flat=True).first() or 0

    start = counter()
    with transaction.atomic():
        ActorFactory()
        ActorFactory()
        assert counter() == start  # not before the commit, so no reader pairs the new counter with old rows
    assert counter() == start + 1  # once per transaction, however many writes

    with pytest.raises(RuntimeError), transaction.atomic():
        ActorFactory()
        raise RuntimeError
    assert counter() == start + 1

    ActorFactory()  # autocommit: at once
    assert counter() == start + 2


@pytest.mark.django_db(transaction=True)
def test_a_link_change_alone_moves_the_counter():
    violation = make_violation()
    before = freshness.current()[0]

    violation.perpetrators.add(ActorFactory())

    assert freshness.current()[0] != before


def test_a_cached_answer_is_served_until_the_record_changes(api, violation):
    client = api.client("analyst")
    first = client.get(VIOLATIONS)

    with CaptureQueriesContext(connection) as captured:
        again = client.get(VIOLATIONS)
    assert again.content == first.content
    assert [q["sql"] for q in captured.captured_queries if '"agreements_' in q["sql"]] == []  # from the cache

    rename_place(violation)
    changed = client.get(VIOLATIONS)
    assert b"Khan Sheikhoun" in changed.content and changed.content != first.content


def test_answers_are_cached_per_format(api, violation):
    client = api.client("admin")
    json_body = client.get(VIOLATIONS).content  # cached first

    page = client.get(VIOLATIONS, HTTP_ACCEPT="text/html")
    csv_body = b"".join(client.get(VIOLATIONS, {"format": "csv"}).streaming_content)

    assert json_body.startswith(b"{")
    assert page["Content-Type"].startswith("text/html") and page.content != json_body
    assert csv_body.splitlines()[0].startswith("\ufeffuuid,".encode())


@pytest.mark.django_db(transaction=True)
def test_a_bulk_import_moves_the_counter():
    from agreements import synthetic
    from agreements.models import Place
    from tests.factories import UserFactory

    agreement = AgreementFactory()
    ClauseFactory(agreement=agreement)
    ActorFactory.create_batch(2)
    PlaceFactory(kind=Place.Kind.SETTLEMENT)
    SourceFactory()
    before = freshness.current()[0]

    synthetic.generate(agreement=agreement, count=3, seed=1, user=UserFactory(role="monitor"), batch=3)

    assert freshness.current()[0] != before


def test_a_cached_answer_is_kept_for_the_user_who_asked(api, violation):
    first, second = api.client("analyst"), api.client("analyst", name="second-analyst")
    first.get(VIOLATIONS)

    with CaptureQueriesContext(connection) as captured:
        assert second.get(VIOLATIONS).status_code == 200
    assert [q for q in captured.captured_queries if '"agreements_violation"' in q["sql"]]  # built for them
