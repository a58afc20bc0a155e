from agreements.models import Violation
from tests.factories import ZoneFactory, make_violation


def test_a_recorded_violation_inside_the_zone_is_flagged(db):
    zone = ZoneFactory()
    violation = make_violation(agreement=zone.agreement)
    assert Violation.objects.get(pk=violation.pk).in_zone is True
