"""Bulk import (agreements/importing/, the import_violations command, the admin import page): a dry run writes
nothing, one bad row imports nothing and is named, good ACLED-style and our own files import every row."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import transaction
from django.urls import reverse

from agreements.exports import VIOLATION_COLUMNS, iter_csv, xlsx_bytes
from agreements.importing import ImportRefused, category_for_acled, import_violations
from agreements.models import Agreement, Place, Source, Violation, ViolationSource
from tests.factories import (
    ActorFactory,
    AgreementFactory,
    ClauseFactory,
    PlaceFactory,
    SourceFactory,
    UserFactory,
    make_violation,
)

DATA = Path(__file__).resolve().parent.parent / "data"
GOOD = DATA / "acled_sochi_good.csv"
ONE_BAD_ROW = DATA / "acled_sochi_one_bad_row.csv"
AGREEMENT = "sochi-2018"


@pytest.fixture(scope="module")
def sochi_loaded(django_db_setup, django_db_blocker):
    """The Sochi demo, loaded once for the module inside a transaction rolled back after it."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("load_sochi", stdout=io.StringIO())
        yield
        transaction.set_rollback(True)


@pytest.fixture
def demo(sochi_loaded, db):
    return Agreement.objects.get(slug=AGREEMENT)


@pytest.fixture
def monitor(db):
    user = UserFactory(username="monitor-importer", is_staff=True)
    user.groups.add(Group.objects.get(name="monitor"))
    return user


def counts() -> dict[str, int]:
    """Everything an import could write, history included."""
    return {
        "violations": Violation.objects.count(),
        "sources": Source.objects.count(),
        "citations": ViolationSource.objects.count(),
        "violation history": Violation.history.count(),
        "source history": Source.history.count(),
        "citation history": ViolationSource.history.count(),
        "perpetrator links": Violation.perpetrators.through.objects.count(),
    }


def rows_of(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


def with_cell(path: Path, file_row: int, column: str, value: str) -> bytes:
    """The file with one cell changed; `file_row` counts the header as row 1."""
    rows = rows_of(path)
    rows[file_row - 1][rows[0].index(column)] = value
    return csv_bytes(rows)


def by_slugs(actors) -> set[str]:
    return {actor.slug for actor in actors.all()}


# --- the mapping ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "sub_event_type", "category"),
    [
        ("Explosions/Remote violence", "Air/drone strike", "airstrike"),  # airstrike or barrel bomb: airstrike
        ("explosions/remote violence", "shelling/artillery/missile attack", "shelling"),
        ("Battles", "Armed clash", "ground_assault"),  # ground assault or patrol attack: ground assault
        ("Battles", "Government regains territory", "territorial_capture"),
        ("Battles", "Non-state actor overtakes territory", "territorial_capture"),
        ("Strategic developments", "Other", "other"),  # four of ours map here: other
        ("Battles", "", "ground_assault"),
    ],
)
def test_acled_event_types_map_back_to_our_categories(event_type, sub_event_type, category):
    assert category_for_acled(event_type, sub_event_type)[0] == category


def test_an_unknown_acled_event_type_maps_to_nothing():
    assert category_for_acled("Protests", "Peaceful protest") == (None, None)


# --- dry run --------------------------------------------------------------------------------------------------------


def test_dry_run_writes_nothing_and_reports_what_each_row_would_create(demo, monitor):
    before = counts()

    report = import_violations(file=GOOD, agreement=AGREEMENT, user=monitor, dry_run=True)

    assert counts() == before
    assert report.ok and not report.committed and report.layout == "acled"
    assert [row.number for row in report.rows] == [2, 3, 4, 5, 6]
    first = report.rows[0]
    assert first.summary == {
        "started": "2019-05-28",
        "category": "airstrike",
        "place": "Khan Shaykhun",
        "perpetrators": "Russian Aerospace Forces, Syrian Arab Air Force",
        "affected": "",
        "clauses": "",
        "killed": "4",
    }
    assert first.new_sources == ["SOHR: SOHR, report of 2019-05-28"]
    assert report.rows[1].new_sources == [
        "SOHR: SOHR, report of 2019-05-29",
        "Syria Call: Syria Call, report of 2019-05-29",
    ]
    assert all(row.violation_uuid is None for row in report.rows), "nothing was written, so nothing has an id"
    assert report.violation_count == 5 and report.new_source_count == 6


def test_dry_run_reports_the_same_errors_a_real_run_would(demo, monitor):
    dry = import_violations(file=ONE_BAD_ROW, agreement=AGREEMENT, user=monitor, dry_run=True)
    real = import_violations(file=ONE_BAD_ROW, agreement=AGREEMENT, user=monitor, dry_run=False)
    assert dry.all_errors() == real.all_errors() != []


# --- one bad row ------------------------------------------------------------------------------------------------------


def test_the_shipped_file_with_one_bad_row_imports_nothing_and_names_the_row(demo, monitor):
    before = counts()

    report = import_violations(file=ONE_BAD_ROW, agreement=AGREEMENT, user=monitor, dry_run=False)

    assert counts() == before
    assert not report.committed
    assert [row.number for row in report.error_rows] == [4]
    assert report.all_errors() == [
        "row 4: actor1: no actor named 'Wagner Group' (add the actor, or add this name as an alias of one)."
    ]


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("actor1", "Wagner Group", "actor1: no actor named 'Wagner Group'"),
        ("actor2", "Nobody Brigade", "actor2: no actor named 'Nobody Brigade'"),
        ("event_date", "2019-13-45", "event_date: '2019-13-45' is not a date"),
        ("location", "Atlantis", "location: no place named 'Atlantis'"),
        ("fatalities", "-3", "fatalities: -3 cannot be negative"),
        ("fatalities", "many", "fatalities: 'many' is not a whole number"),
        ("latitude", "135.2", "latitude: 135.2 is outside ±90"),
        ("event_type", "Protests", "event_type: 'Protests' is not an ACLED event type"),
        ("notes", "", "notes: a description of what happened is required"),
    ],
)
def test_a_file_with_one_bad_row_imports_nothing_and_names_the_row_and_the_problem(
    demo, monitor, column, value, expected
):
    before = counts()

    report = import_violations(file=with_cell(GOOD, 4, column, value), agreement=AGREEMENT, user=monitor, dry_run=False)

    assert counts() == before, "all or nothing: the four good rows are not written either"
    assert not report.committed
    assert [row.number for row in report.error_rows] == [4]
    (error,) = report.all_errors()
    assert error.startswith(f"row 4: {expected}"), error


def test_a_row_the_model_refuses_is_an_error_of_that_row(demo, monitor):
    # Readable cells, but the database would refuse the row: civilians killed cannot exceed all killed (our layout).
    header = ["started_at", "category", "description", "place", "killed_best", "civilians_killed_best"]
    data = csv_bytes([header, ["2019-05-28", "shelling", "Shelling.", "Kafr Nabudah", "1", "5"]])
    before = counts()

    report = import_violations(file=data, agreement=AGREEMENT, user=monitor, dry_run=False)

    assert counts() == before
    assert report.all_errors() == [
        "row 2: civilians_killed_best: Civilians killed (best) cannot exceed all killed (best)."
    ]


def test_an_ambiguous_place_is_an_error_until_admin1_tells_them_apart(demo, monitor):
    PlaceFactory(name="Tall Hamid", admin1="Idlib")
    PlaceFactory(name="Tell Hamid", admin1="Hama").aliases.create(name="Tall Hamid")
    rows = rows_of(GOOD)[:2]
    rows[1][rows[0].index("location")] = "Tall Hamid"
    rows[1][rows[0].index("admin1")] = ""

    ambiguous = import_violations(file=csv_bytes(rows), agreement=AGREEMENT, user=monitor, dry_run=True)
    rows[1][rows[0].index("admin1")] = "Hama"
    narrowed = import_violations(file=csv_bytes(rows), agreement=AGREEMENT, user=monitor, dry_run=False)

    assert ambiguous.all_errors() == [
        "row 2: location: 'Tall Hamid' could be any of Tall Hamid (Idlib) [Idlib/]; Tell Hamid (Hama) [Hama/]; "
        "give admin1/admin2 to tell them apart."
    ]
    assert narrowed.committed
    assert Violation.objects.get(uuid=narrowed.rows[0].violation_uuid).place.name == "Tell Hamid"


def test_an_ambiguous_actor_name_is_an_error(demo, monitor):
    ActorFactory(name="Free Army").aliases.create(name="FSA")
    ActorFactory(name="Free Syrian Army").aliases.create(name="FSA")
    data = with_cell(GOOD, 2, "actor1", "fsa")

    report = import_violations(file=data, agreement=AGREEMENT, user=monitor, dry_run=True)

    assert report.all_errors() == [
        "row 2: actor1: 'fsa' could be any of Free Army, Free Syrian Army; use the full name."
    ]


def test_unknown_columns_and_a_missing_agreement(demo, monitor):
    with pytest.raises(ImportRefused, match="No agreement with slug 'nope'"):
        import_violations(file=GOOD, agreement="nope", user=monitor, dry_run=True)
    report = import_violations(file=b"date,what\n2019-05-01,x\n", agreement=AGREEMENT, user=monitor, dry_run=True)
    assert not report.ok and report.rows == []
    assert "neither our columns" in report.errors[0]


def test_a_file_missing_a_required_column_is_refused_whole(demo, monitor):
    rows = [
        [cell for position, cell in enumerate(row) if position != rows_of(GOOD)[0].index("notes")]
        for row in rows_of(GOOD)
    ]
    report = import_violations(file=csv_bytes(rows), agreement=AGREEMENT, user=monitor, dry_run=True)
    assert report.errors == ["Missing required columns for ACLED-style columns: notes."]


# --- a good ACLED-style file --------------------------------------------------------------------------------------


def test_a_good_acled_file_imports_every_row_with_matched_actors_and_places(demo, monitor):
    before = counts()

    report = import_violations(file=GOOD, agreement=AGREEMENT, user=monitor, dry_run=False)

    assert report.committed and report.ok, report.all_errors()
    assert Violation.objects.count() == before["violations"] + 5
    imported = [Violation.objects.get(uuid=row.violation_uuid) for row in report.rows]
    air, shelling, clash, capture, post = imported

    assert air.category == "airstrike" and air.started_at == datetime(2019, 5, 28, tzinfo=UTC)
    # "Russian Air Force" and "SyAAF" are aliases; "Khan Sheikhoun" an alias of Khan Shaykhun.
    assert by_slugs(air.perpetrators) == {"russian-aerospace-forces", "syrian-arab-air-force"}
    assert air.place.name == "Khan Shaykhun"
    assert (air.latitude, air.longitude) == (Decimal("35.441400"), Decimal("36.650900"))  # its own point
    assert air.killed_best == 4 and air.location_precision == "town" and air.time_precision == "day"

    assert shelling.category == "shelling"
    assert by_slugs(shelling.perpetrators) == {"syrian-arab-army"}  # "Syrian Army"
    assert by_slugs(shelling.affected_actors) == {"national-front-for-liberation"}  # "NLF"
    assert shelling.place.name == "Kafr Nabudah"  # "Kafr Nabouda"
    assert shelling.latitude is None, "the place's own point is not copied onto the violation"
    assert shelling.killed_best is None, "ACLED's 0 fatalities means none reported"
    assert sorted(s.publisher for s in shelling.sources.all()) == ["SOHR", "Syria Call"]
    assert {s.grade for s in shelling.sources.all()} == {"F6"}

    assert clash.category == "ground_assault" and clash.started_at.date() == date(2019, 5, 30)  # "30 May 2019"
    assert by_slugs(clash.perpetrators) == {"hayat-tahrir-al-sham"}
    assert by_slugs(clash.affected_actors) == {"tiger-forces"}
    assert clash.place.name == "Qalaat al-Madiq" and clash.killed_best == 12

    assert capture.category == "territorial_capture" and capture.time_precision == "week"
    assert by_slugs(capture.perpetrators) == {"syrian-arab-army"}  # "syrian arab army", case ignored
    assert capture.place.name == "Kafr Zita"  # "Kafr Zeita"

    assert by_slugs(post.affected_actors) == {"turkish-armed-forces"}  # "TSK"
    assert post.place.name == "Maarat al-Numan"  # "Ma’arrat al-Nu’man": curly apostrophes, alias
    assert [s.publisher for s in post.sources.all()] == ["Türkiye Ministry of Defence"]

    for violation in imported:
        assert violation.agreement.slug == AGREEMENT
        assert violation.status == "reported" and violation.reported_by == monitor
        assert {entry.history_user for entry in violation.history.all()} == {monitor}
    # One source per publisher and day: row 2 and 3 of the file cite SOHR on different days.
    assert Source.objects.filter(publisher="SOHR").count() == 2


def test_a_second_import_reuses_the_sources_and_warns_of_duplicates(demo, monitor):
    import_violations(file=GOOD, agreement=AGREEMENT, user=monitor, dry_run=False)
    sources = Source.objects.count()

    again = import_violations(file=GOOD, agreement=AGREEMENT, user=monitor, dry_run=True)

    assert Source.objects.count() == sources
    assert all(row.new_sources == [] and row.reused_sources for row in again.rows)
    assert all(any(w.startswith("Possible duplicate of ") for w in row.warnings) for row in again.rows)


def test_an_xlsx_file_imports_like_the_csv(demo, monitor):
    rows = rows_of(GOOD)
    header = rows[0]
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows[1:]:
        values = dict(zip(header, row, strict=True))
        values["event_date"] = datetime(2019, 5, 28) if values["event_date"] == "2019-05-28" else values["event_date"]
        for name in ("latitude", "longitude"):
            values[name] = float(values[name])
        values["fatalities"] = int(values["fatalities"]) if values["fatalities"] else None
        sheet.append([values[name] for name in header])
    buffer = io.BytesIO()
    workbook.save(buffer)

    report = import_violations(file=buffer.getvalue(), agreement=AGREEMENT, user=monitor, dry_run=False)

    assert report.committed, report.all_errors()
    assert [row.number for row in report.rows] == [2, 3, 4, 5, 6]
    air = Violation.objects.get(uuid=report.rows[0].violation_uuid)
    assert air.started_at == datetime(2019, 5, 28, tzinfo=UTC) and air.killed_best == 4
    assert by_slugs(air.perpetrators) == {"russian-aerospace-forces", "syrian-arab-air-force"}
    assert air.latitude == Decimal("35.441400")


# --- our own columns: export, then import back ---------------------------------------------------------------


@pytest.fixture
def exported(db):
    """Two violations of a fresh agreement, with every kind of link, and how our export writes them."""
    agreement = AgreementFactory(slug="test-accord")
    clauses = [ClauseFactory(agreement=agreement, number="3"), ClauseFactory(agreement=agreement, number="5(a)")]
    army, rebels = ActorFactory(name="Army of the North"), ActorFactory(name="Rebels of the South")
    place = PlaceFactory(name="Ayn Dara", admin1="Idlib")
    source = SourceFactory(publisher="Wire", title="Town shelled", reliability="B", credibility=2)
    user = UserFactory(role="monitor")
    first = make_violation(
        user=user,
        agreement=agreement,
        clauses=clauses,
        perpetrators=[army],
        affected_actors=[rebels],
        sources=[source],
        place=place,
        started_at=datetime(2019, 5, 6, 4, 30, tzinfo=UTC),
        time_precision="exact",
        killed_low=2,
        killed_best=3,
        civilians_killed_best=1,
        displaced=40,
        description="-3 houses hit = a formula-looking description",
    )
    second = make_violation(
        user=user,
        agreement=agreement,
        category="airstrike",
        latitude=Decimal("35.123456"),
        longitude=Decimal("36.654321"),
        location_precision="exact",
        started_at=datetime(2019, 5, 7, tzinfo=UTC),
        ended_at=datetime(2019, 5, 8, tzinfo=UTC),
        time_precision="day",
        description="Airstrike on a point.",
    )
    queryset = Violation.objects.filter(agreement=agreement).order_by("started_at")
    files = {
        "csv": "".join(iter_csv(queryset, VIOLATION_COLUMNS)).encode("utf-8"),
        "xlsx": xlsx_bytes(queryset, VIOLATION_COLUMNS, max_rows=100),
    }
    return agreement, [first, second], files


FACTS = [
    "uuid",
    "category",
    "started_at",
    "ended_at",
    "time_precision",
    "place_id",
    "latitude",
    "longitude",
    "location_precision",
    "in_zone",
    "killed_low",
    "killed_best",
    "civilians_killed_best",
    "displaced",
    "description",
]


def snapshot(violation: Violation) -> dict:
    return {
        **{name: getattr(violation, name) for name in FACTS},
        "clauses": sorted(c.number for c in violation.clauses.all()),
        "perpetrators": sorted(a.name for a in violation.perpetrators.all()),
        "affected": sorted(a.name for a in violation.affected_actors.all()),
        "sources": sorted(s.pk for s in violation.sources.all()),
    }


def test_an_export_of_violations_we_have_is_refused_row_by_row(exported, monitor):
    agreement, _, files = exported

    report = import_violations(file=files["csv"], agreement=agreement, user=monitor, dry_run=True)

    assert [row.number for row in report.error_rows] == [2, 3]
    assert all("is already recorded" in row.errors[0] for row in report.error_rows)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_our_own_columns_round_trip_through_export_and_import(exported, monitor, fmt):
    agreement, violations, files = exported
    before = [snapshot(violation) for violation in violations]
    ViolationSource.objects.filter(violation__in=violations).delete()
    Violation.objects.filter(pk__in=[v.pk for v in violations]).delete()

    report = import_violations(file=files[fmt], agreement=agreement.slug, user=monitor, dry_run=False)

    assert report.committed and report.layout == "ours", report.all_errors()
    after = [snapshot(Violation.objects.get(uuid=violation.uuid)) for violation in violations]
    assert after == before
    assert report.new_source_count == 0, "the source is found again by its URL"


# --- the command ------------------------------------------------------------------------------------------------------


def test_the_command_dry_run_prints_a_progress_bar_and_a_line_per_row(demo):
    out, err = io.StringIO(), io.StringIO()
    before = counts()

    call_command("import_violations", str(GOOD), agreement=AGREEMENT, dry_run=True, stdout=out, stderr=err)

    assert counts() == before
    lines = out.getvalue().splitlines()
    assert "Read 5 rows with ACLED-style columns." in lines
    created = [line for line in lines if line.startswith("row ") and ": warning:" not in line]
    assert [line.split(":")[0] for line in created] == [f"row {n}" for n in range(2, 7)]
    assert "row 2: would create airstrike at Khan Shaykhun on 2019-05-28" in out.getvalue()
    assert "Dry run: 5 violations and 6 new sources would be created. Nothing was written." in out.getvalue()
    assert "] 5/5 rows (100%)" in err.getvalue() and "[####" in err.getvalue()
    assert not get_user_model().objects.filter(username="importer").exists(), "a dry run leaves no user behind"


def test_the_command_imports_as_the_given_user(demo, monitor):
    out = io.StringIO()
    call_command(
        "import_violations", str(GOOD), agreement=AGREEMENT, user=monitor.username, stdout=out, stderr=io.StringIO()
    )
    assert "Imported 5 violations (6 new sources) into sochi-2018." in out.getvalue()
    assert Violation.objects.filter(reported_by=monitor).count() == 5


def test_the_command_fails_and_names_every_bad_row_on_a_real_run(demo, tmp_path):
    rows = rows_of(GOOD)
    rows[2][rows[0].index("actor1")] = "Wagner Group"
    rows[4][rows[0].index("event_date")] = "yesterday"
    path = tmp_path / "two-bad-rows.csv"
    path.write_bytes(csv_bytes(rows))
    err = io.StringIO()
    before = counts()

    with pytest.raises(CommandError, match=r"Nothing was imported: 2 rows with errors \(3, 5\)"):
        call_command("import_violations", str(path), agreement=AGREEMENT, stdout=io.StringIO(), stderr=err)

    assert counts() == before
    assert "row 3: error: actor1: no actor named 'Wagner Group'" in err.getvalue()
    assert "row 5: error: event_date: 'yesterday' is not a date" in err.getvalue()


def test_the_command_refuses_an_unknown_agreement_or_user(demo):
    with pytest.raises(CommandError, match="No agreement with slug 'nope'"):
        call_command("import_violations", str(GOOD), agreement="nope", stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command(
            "import_violations",
            str(GOOD),
            agreement=AGREEMENT,
            user="ghost",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )


# --- the admin page ---------------------------------------------------------------------------------------------

IMPORT_URL = "admin:agreements_violation_import"


def upload(path: Path, name: str | None = None):
    return SimpleUploadedFile(name or path.name, path.read_bytes(), content_type="text/csv")


def test_the_admin_import_previews_rows_then_imports_them(demo, monitor, client):
    client.force_login(monitor)
    before = counts()

    preview = client.post(reverse(IMPORT_URL), {"file": upload(GOOD), "agreement": AGREEMENT, "dry_run": "on"})

    assert preview.status_code == 200
    assert counts() == before
    report = preview.context["report"]
    assert report.dry_run and report.ok and len(report.rows) == 5
    html = preview.content.decode()
    assert 'id="row-2"' in html and "Khan Shaykhun" in html and "Import these 5 violations" in html
    token = preview.context["token"]

    done = client.post(reverse(IMPORT_URL), {"token": token})

    assert done.status_code == 200
    assert done.context["report"].committed
    assert Violation.objects.count() == before["violations"] + 5
    assert Violation.objects.filter(reported_by=monitor).count() == 5
    assert "/admin/agreements/violation/" in done.content.decode(), "each row links to the violation it created"
    again = client.post(reverse(IMPORT_URL), {"token": token})
    assert "That preview has expired" in again.content.decode(), "a preview imports once"
    assert Violation.objects.count() == before["violations"] + 5


def test_the_admin_import_shows_errors_and_imports_nothing(demo, monitor, client):
    client.force_login(monitor)
    before = counts()

    response = client.post(reverse(IMPORT_URL), {"file": upload(ONE_BAD_ROW), "agreement": AGREEMENT, "dry_run": ""})

    assert response.status_code == 200
    assert counts() == before
    html = response.content.decode()
    assert 'class="row-error" id="row-4"' in html
    assert "no actor named &#x27;Wagner Group&#x27;" in html
    assert response.context["token"] is None, "a file with errors cannot be confirmed"


def test_the_admin_import_needs_the_add_violation_permission(demo, client):
    analyst = UserFactory(username="analyst-importer", is_staff=True)
    analyst.groups.add(Group.objects.get(name="analyst"))
    client.force_login(analyst)

    assert client.get(reverse(IMPORT_URL)).status_code == 403
    response = client.post(reverse(IMPORT_URL), {"file": upload(GOOD), "agreement": AGREEMENT, "dry_run": ""})
    assert response.status_code == 403
    assert not Violation.objects.filter(reported_by=analyst).exists()


def test_the_admin_import_page_is_linked_for_monitors_and_needs_a_login(demo, monitor, client):
    assert client.get(reverse(IMPORT_URL)).status_code == 302
    client.force_login(monitor)
    assert reverse(IMPORT_URL) in client.get(reverse("admin:index")).content.decode()
    assert client.get(reverse(IMPORT_URL)).status_code == 200


def test_place_model_is_untouched_by_an_import_with_unknown_places(demo, monitor):
    places = Place.objects.count()
    import_violations(file=with_cell(GOOD, 2, "location", "Nowhere"), agreement=AGREEMENT, user=monitor, dry_run=False)
    assert Place.objects.count() == places
