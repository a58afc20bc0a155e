"""What an import reports: file-level problems and one result per data row."""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import dataclass, field

from agreements.models import Agreement

OURS = "ours"
ACLED = "acled"
LAYOUT_NAMES = {OURS: "our columns", ACLED: "ACLED-style columns"}


@dataclass
class RowResult:
    """One row of the file: what it would create (or created), and what is wrong with it."""

    number: int  # as a spreadsheet numbers it: the header is row 1
    summary: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    new_sources: list[str] = field(default_factory=list)
    reused_sources: list[str] = field(default_factory=list)
    violation_uuid: uuid_module.UUID | None = None  # the violation created; None unless the import was committed

    @property
    def ok(self) -> bool:
        return not self.errors

    def describe(self) -> str:
        """One line: "airstrike at Kafr Nabudah on 2019-05-06; perpetrators …; sources: 1 new, 0 known"."""
        summary = self.summary
        parts = [f"{summary.get('category', '?')} at {summary.get('place', '?')} on {summary.get('started', '?')}"]
        for key in ("perpetrators", "affected", "clauses", "killed"):
            if self.summary.get(key):
                parts.append(f"{key} {self.summary[key]}")
        if self.new_sources or self.reused_sources:
            parts.append(f"sources: {len(self.new_sources)} new, {len(self.reused_sources)} known")
        return "; ".join(parts)


@dataclass
class ImportReport:
    """What an import did (or, for a dry run, would do): file-level problems and one result per data row."""

    agreement: Agreement | None
    dry_run: bool
    layout: str = ""
    rows: list[RowResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # problems with the file as a whole
    warnings: list[str] = field(default_factory=list)
    committed: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors and all(row.ok for row in self.rows)

    @property
    def error_rows(self) -> list[RowResult]:
        return [row for row in self.rows if not row.ok]

    @property
    def layout_name(self) -> str:
        return LAYOUT_NAMES.get(self.layout, "")

    @property
    def violation_count(self) -> int:
        return sum(1 for row in self.rows if row.ok)

    @property
    def new_source_count(self) -> int:
        return len({name for row in self.rows for name in row.new_sources})

    def all_errors(self) -> list[str]:
        """Every error as one line, file-level first, then "row N: …" in file order."""
        return [*self.errors, *(f"row {row.number}: {error}" for row in self.rows for error in row.errors)]


class ImportRefused(Exception):
    """The import cannot start (no such agreement …); a file's own problems go into the report instead."""
