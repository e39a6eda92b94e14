"""What a launch check returns: one `Problem` naming the setting, its value and what to do."""

from __future__ import annotations

from dataclasses import dataclass

ERROR, WARNING = "error", "warning"
# Scope of a problem: "config" is wrong on every machine; "machine" only where this hardware runs it
# (the same files still work on a GPU cluster).
CONFIG, MACHINE = "config", "machine"


@dataclass(frozen=True)
class Problem:
    severity: str  # "error" blocks the run; "warning" runs, but not as one might expect
    setting: str  # "section.field", e.g. "parallel.zero_stage"
    message: str  # what is wrong (with the value) and what to do
    scope: str = CONFIG
