"""The one write path for the record. The admin, the API and the management commands call these functions;
none of them saves a model of this app by itself, and none decides who may: `permissions` does, and the services
ask it before they write.

Every function is keyword-only, runs in a transaction, validates with `full_clean()` (so a bad value is a
ValidationError with field messages, never a half-written row or a database error) and attributes the change to
`user` in the history.

- `base`: validation, attribution, versions of reference records, retirement (never deletion)
- `permissions`: who may do what, as named permissions and one refusal function per rule
- `geography`: zones, places and clauses, and the in-zone flag they decide
- `violations`: recording and editing violations
- `review`: verify, dispute, reject, reopen, retract
- `sources`: sources and citations
- `merge`: folding a duplicate into the record it repeats
- `agreements`: an agreement with its parties
- `history`: reading a violation's history
"""

from agreements.services.agreements import agreement_save
from agreements.services.base import model_retire, model_save, validate
from agreements.services.geography import clause_save, place_save, violation_locate, zone_containing, zone_save
from agreements.services.history import violation_history
from agreements.services.merge import violation_merge
from agreements.services.review import (
    violation_dispute,
    violation_reject,
    violation_reopen,
    violation_retract,
    violation_verify,
)
from agreements.services.sources import (
    NewSource,
    citation_remove,
    citation_source_problem,
    citation_update,
    source_get_or_create,
    source_known,
    violation_cite,
)
from agreements.services.versions import FACT_FIELDS, StaleEdit, violation_check_version
from agreements.services.violations import (
    violation_check_clauses,
    violation_check_dates,
    violation_check_editable,
    violation_create,
    violation_save,
    violation_update,
)

__all__ = [
    "FACT_FIELDS",
    "NewSource",
    "StaleEdit",
    "agreement_save",
    "citation_remove",
    "citation_source_problem",
    "citation_update",
    "clause_save",
    "model_retire",
    "model_save",
    "place_save",
    "source_get_or_create",
    "source_known",
    "validate",
    "violation_check_clauses",
    "violation_check_dates",
    "violation_check_editable",
    "violation_check_version",
    "violation_cite",
    "violation_create",
    "violation_dispute",
    "violation_history",
    "violation_locate",
    "violation_merge",
    "violation_reject",
    "violation_reopen",
    "violation_retract",
    "violation_save",
    "violation_update",
    "violation_verify",
    "zone_containing",
    "zone_save",
]
