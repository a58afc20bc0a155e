"""What a citation names is one rule (services.citation_source_problem) with one answer in every face."""

import pytest
from django.core.exceptions import ValidationError

from agreements import services
from agreements.admin.forms import CitationForm
from tests.factories import SourceFactory, make_violation

CASES = {
    "neither": ({}, "Choose an existing source or describe a new one."),
    "both": ({"existing": True, "publisher": "SOHR", "title": "Shelling"}, "not both"),
    "no kind": ({"publisher": "SOHR", "title": "Shelling"}, "A new source needs its kind."),
    "no title": ({"publisher": "SOHR", "kind": "news_report"}, "A new source needs its title."),
}


@pytest.fixture
def violation(db):
    return make_violation()


def service_message(violation, given) -> str:
    source = SourceFactory() if given.get("existing") else None
    typed = {k: given.get(k, "") for k in ("publisher", "title", "kind")}
    new = services.NewSource(**typed) if any(typed.values()) else None
    with pytest.raises(ValidationError) as caught:
        services.violation_cite(violation=violation, user=violation.reported_by, source=source, new_source=new)
    return " ".join(caught.value.messages)


def api_message(api, given) -> str:
    citation = {k: given[k] for k in ("publisher", "title", "kind") if k in given}
    if given.get("existing"):
        citation["source"] = SourceFactory().pk
    body = {
        "agreement": make_violation().agreement.slug,
        "category": "shelling",
        "description": "Shelling reported.",
        "started_at": "2019-05-06T04:00:00Z",
        "latitude": 35.5,
        "longitude": 36.5,
        "new_sources": [citation],
    }
    response = api.client("monitor").post("/api/v1/violations/", body, format="json")
    assert response.status_code == 400, response.content[:300]
    return str(response.json()["error"]["fields"])


def admin_message(given) -> str:
    data = {"note": "", "new_kind": given.get("kind", ""), "new_reliability": "F", "new_credibility": 6}
    data.update(new_publisher=given.get("publisher", ""), new_title=given.get("title", ""))
    if given.get("existing"):
        data["source"] = SourceFactory().pk
    form = CitationForm(data=data)
    assert not form.is_valid()
    return str(form.errors)


@pytest.mark.parametrize("case", CASES)
def test_the_service_the_api_and_the_admin_give_the_same_answer(api, violation, case):
    given, expected = CASES[case]
    if case == "no kind":
        # The admin form always offers a kind (a choice with a default), so it cannot be missing there.
        assert expected in service_message(violation, given) and expected in api_message(api, given)
        return
    for message in (service_message(violation, given), api_message(api, given), admin_message(given)):
        assert expected in message, message
