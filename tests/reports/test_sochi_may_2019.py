"""The Sochi demo (agreements/demo/sochi/) assessed for May 2019: the statuses its data implies, clause by clause,
with the reason. Every demo violation is still "reported" (one partisan C3 source verifies nothing), so breaches
make clauses partially compliant, never non-compliant; only the missed route deadline is a non-compliance."""

from __future__ import annotations

from datetime import date

import pytest

from agreements.demo import loading
from agreements.models import Actor, Agreement
from reports.engine import assess_agreement

pytestmark = pytest.mark.django_db

MAY_1, MAY_31 = date(2019, 5, 1), date(2019, 5, 31)

# clause number: (status, score, deadline state, why)
EXPECTED = {
    "1": (
        "partially_compliant",
        1,
        "no_deadline",
        "Status quo: five control changes in May (21 locations on 6 May, Kafr Nabudah retaken on 21 and 26 May), "
        "all tied to unverified incidents; repeated alleged breaches score 1.",
    ),
    "2": (
        "partially_compliant",
        1,
        "no_deadline",
        "Status quo (Russia): the same control changes plus four unverified incidents linked to it (ground "
        "operation, capture, retaking, air campaign of 1–16 May).",
    ),
    "3": (
        "partially_compliant",
        1,
        "no_deadline",
        "DMZ: three unverified incidents linked to it, and the 21 May counter-attack at Kafr Nabudah, which lies "
        "inside the demo DMZ polygon though it is not linked to clause 3.",
    ),
    "4": ("not_assessed", None, "no_deadline", "Zone lines by consultation: nothing on record."),
    "5": (
        "partially_compliant",
        2,
        "overdue",
        "Radical groups out by 15 Oct 2018: HTS took part in the 21 May counter-attack (one unverified incident), "
        "and HTS's January expansion was already after the deadline, so the deadline is overdue.",
    ),
    "6": (
        "not_assessed",
        None,
        "met",
        "Heavy weapons out by 10 Oct 2018: no presence of heavy weapons recorded after the deadline, so nothing "
        "contradicts it (met as far as the record shows), and nothing to assess in May.",
    ),
    "7": (
        "not_assessed",
        None,
        "no_deadline",
        "Patrols: the only demo patrol is dated January 2019, and the shelling after patrols started in January.",
    ),
    "8": (
        "non_compliant",
        0,
        "overdue",
        "M4 and M5 by the end of 2018: both recorded closed on 31 December 2018 and never open since.",
    ),
    "9": (
        "partially_compliant",
        1,
        "no_deadline",
        "Ceasefire: six unverified incidents in May (the ground operation, the capture, the opposition's "
        "reinforcement, the counter-attack, the retaking, the air campaign).",
    ),
    "10": ("not_assessed", None, "no_deadline", "Resolve to fight terrorism: nothing on record."),
}


@pytest.fixture
def agreement(db):
    loading.load()
    return Agreement.objects.get(slug="sochi-2018")


def test_may_2019_statuses_are_those_the_demo_data_implies(agreement):
    result = assess_agreement(agreement, start=MAY_1, end=MAY_31).as_dict()
    actual = {c["number"]: (c["status"], c["score"], c["deadline_state"]) for c in result["clauses"]}
    assert actual == {number: expected[:3] for number, expected in EXPECTED.items()}
    # Six clauses scored (1, 2, 3, 5, 8, 9): (1 + 1 + 1 + 2 + 0 + 1) / (3 × 6) = 33.3 %.
    assert (result["implementation_percent"], result["scored_clauses"], result["clause_count"]) == (33.3, 6, 10)


def test_may_2019_evidence_behind_the_statuses(agreement):
    clauses = {c["number"]: c for c in assess_agreement(agreement, start=MAY_1, end=MAY_31).as_dict()["clauses"]}
    violations = {number: c["evidence"]["violations"] for number, c in clauses.items()}
    assert {n: (v["verified"], v["unverified"], v["disputed"]) for n, v in violations.items()} == {
        "1": (0, 0, 0),
        "2": (0, 4, 0),
        "3": (0, 4, 0),
        "4": (0, 0, 0),
        "5": (0, 1, 0),
        "6": (0, 0, 0),
        "7": (0, 0, 0),
        "8": (0, 0, 0),
        "9": (0, 6, 0),
        "10": (0, 0, 0),
    }
    assert (clauses["1"]["evidence"]["control_changes"], clauses["1"]["evidence"]["locations_changed"]) == (5, 23)
    assert clauses["8"]["evidence"]["route_statuses"] == [
        {"route": "M4", "segment": "", "status": "closed", "observed_on": "2018-12-31"},
        {"route": "M5", "segment": "", "status": "closed", "observed_on": "2018-12-31"},
    ]
    perpetrators = [a["actor"] for a in violations["5"]["by_actor"]]
    assert perpetrators == ["hayat-tahrir-al-sham", "national-front-for-liberation"]


def test_russias_may_2019_scorecard_counts_only_what_its_own_forces_did(agreement):
    # Russia is obligated by every clause; its parts are the Aerospace Forces and the military police. Of May's
    # incidents, its Aerospace Forces are alleged in the ground operation, the retaking and the air campaign.
    card = assess_agreement(agreement, start=MAY_1, end=MAY_31, actor=Actor.objects.get(slug="russia")).as_dict()
    statuses = {c["number"]: (c["status"], c["evidence"]["violations"]["unverified"]) for c in card["clauses"]}
    assert statuses == {
        "1": ("not_assessed", 0),  # no control change in Russia's favour
        "2": ("partially_compliant", 3),
        "3": ("partially_compliant", 2),
        "4": ("not_assessed", 0),
        "5": ("not_assessed", 0),
        "6": ("not_assessed", 0),
        "7": ("not_assessed", 0),
        "8": ("non_compliant", 0),  # routes are everyone's: still closed
        "9": ("partially_compliant", 3),
        "10": ("not_assessed", 0),
    }
    assert card["implementation_percent"] == 25.0  # (1 + 1 + 0 + 1) / 12
