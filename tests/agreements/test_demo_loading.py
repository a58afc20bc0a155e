"""The generic loader of agreement data files (agreements/demo/reading.py and loading.py) on a small directory of
its own: a second load writes nothing, and a malformed file is refused naming the file and the entry, writing
nothing (the Sochi demo itself is tested in test_load_sochi.py)."""

from datetime import UTC, date, datetime
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from agreements.demo import loading
from agreements.demo.reading import DataError, read
from agreements.models import Actor, Agreement, Violation

AGREEMENT = """
agreement:
  slug: test-accord
  title: Test accord
  status: in_force
  signed_on: 2020-03-05
parties:
  north: [signatory, guarantor]
demo_user: test-accord-demo
"""

ACTORS = """
actors:
- slug: north
  name: Northern Republic
  kind: state
  description: A party.
  aliases: [North, {fr: Nord}]
- slug: north-army
  name: Northern Army
  kind: state_force
  part_of: north
  description: Its army.
"""

EVENTS = """
clauses:
- number: 1
  title: Ceasefire
  kind: ceasefire
  obligated: [north]
places:
- name: Riverton
  kind: settlement
  latitude: 35.5
  longitude: 36.5
sources:
- key: bulletin
  publisher: Test bulletin
  title: Shelling at Riverton
  url: https://example.org/riverton
  kind: news_report
violations:
- key: riverton-shelling
  category: shelling
  clauses: [1]
  perpetrators: [north-army]
  started_at: 2020-03-08
  place: Riverton
  description: Shelling of Riverton.
  citations: [{source: bulletin, note: The bulletin's account.}]
"""


def every_row_count() -> dict[str, int]:
    """Rows of every table of the app, history and m2m tables included, and users."""
    models = [*apps.get_app_config("agreements").get_models(include_auto_created=True), get_user_model()]
    return {model._meta.label: model._default_manager.count() for model in models}


@pytest.fixture
def directory(tmp_path):
    for name, text in (("agreement.yaml", AGREEMENT), ("actors.yaml", ACTORS), ("events.yaml", EVENTS)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_loads_the_directory_through_the_services(db, directory):
    counts = loading.load(directory)
    assert {name: n for name, n in counts.items() if n} == {
        "Actor": 2,
        "ActorAlias": 2,
        "Agreement": 1,
        "AgreementParty": 2,
        "Clause": 1,
        "Place": 1,
        "Source": 1,
        "Violation": 1,
        "ViolationSource": 1,
        "User": 1,
    }
    violation = Violation.objects.get(uuid=loading.violation_uuid("test-accord", "riverton-shelling"))
    assert violation.started_at == datetime(2020, 3, 8, tzinfo=UTC)
    assert violation.reported_by.username == "test-accord-demo"
    assert violation.citations.get().note == "The bulletin's account."
    assert violation.history.count() >= 1
    assert Agreement.objects.get(slug="test-accord").signed_on == date(2020, 3, 5)
    assert Actor.objects.get(slug="north-army").part_of.slug == "north"
    assert set(Actor.objects.get(slug="north").aliases.values_list("name", "language")) == {
        ("North", ""),
        ("Nord", "fr"),
    }


def test_a_second_load_writes_nothing_and_no_history(db, directory):
    loading.load(directory)
    rows = every_row_count()
    assert rows["agreements.HistoricalViolation"] >= 1

    counts = loading.load(directory)

    assert not any(counts.values()), counts
    assert every_row_count() == rows


def test_load_agreement_command(db, directory):
    out = StringIO()
    call_command("load_agreement", str(directory), stdout=out)
    assert "Created 2 actors," in out.getvalue()
    out = StringIO()
    call_command("load_agreement", str(directory), stdout=out)
    assert out.getvalue().strip() == f"Nothing to do: {directory} is already loaded."


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "events.yaml",
            "category: shelling",
            "category: sheling",
            "events.yaml, violations entry 1 (riverton-shelling): category: 'sheling' is not one of ",
        ),
        (
            "events.yaml",
            "started_at: 2020-03-08",
            "started_at: last week",
            "events.yaml, violations entry 1 (riverton-shelling): started_at: 'last week' is not a date",
        ),
        (
            "actors.yaml",
            "description: Its army.",
            "description: Its army.\n  colour: green",
            "actors.yaml, actors entry 2 (north-army): unknown key 'colour' (an entry here may have: aliases,",
        ),
        (
            "actors.yaml",
            "kind: state_force",
            "kind: state_force\n  country: no",
            "actors.yaml, actors entry 2 (north-army): country: False is not text",
        ),
        (
            "events.yaml",
            "place: Riverton",
            "place: Lakeside",
            "events.yaml, violations entry 1 (riverton-shelling): place: no place 'Lakeside' in ",
        ),
        (
            "events.yaml",
            "  title: Ceasefire\n",
            "",
            "events.yaml, clauses entry 1 (1): missing title.",
        ),
        ("events.yaml", "clauses:\n", "clauses:\n  [", "events.yaml: not readable as YAML: "),
    ],
)
def test_a_malformed_file_is_refused_naming_file_and_entry(db, directory, file, old, new, message):
    path = directory / file
    path.write_text(path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    rows = every_row_count()

    with pytest.raises(DataError) as refused:
        loading.load(directory)

    assert message in str(refused.value)
    assert str(path) in str(refused.value)
    assert every_row_count() == rows


def test_an_error_met_while_writing_rolls_back_what_was_written(db, directory):
    # An actor slug is looked up in the database too, so it is only found missing after actors and clauses are saved.
    path = directory / "events.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("[north-army]", "[nobody]"), encoding="utf-8")
    rows = every_row_count()

    with pytest.raises(DataError, match=r"violations entry 1 \(riverton-shelling\): no actor 'nobody' in "):
        loading.load(directory)

    assert every_row_count() == rows


def test_a_validation_error_of_the_services_names_the_entry(db, directory):
    path = directory / "events.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "started_at: 2020-03-08", "started_at: 2020-03-08\n  ended_at: 2020-03-01"
        ),
        encoding="utf-8",
    )
    rows = every_row_count()

    with pytest.raises(DataError, match=r"events.yaml, violations entry 1 \(riverton-shelling\): "):
        loading.load(directory)

    assert every_row_count() == rows


def test_the_command_reports_a_malformed_directory(db, tmp_path):
    (tmp_path / "agreement.yaml").write_text("agreement: [not, a, mapping]\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"Nothing loaded: .*agreement.yaml: 'agreement' is a mapping"):
        call_command("load_agreement", str(tmp_path))


def test_the_sochi_files_read_cleanly():
    data = read(loading.SOCHI)
    assert data.agreement.values["slug"] == "sochi-2018"
    assert data.demo_user == "sochi-demo"
    assert [entry.name for entry in data.clauses] == [str(n) for n in range(1, 11)]
