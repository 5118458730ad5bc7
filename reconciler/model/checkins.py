"""Plain data of check-ins and credit: schedules, the firing ledger, holds, and their actions."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.model.agents import Action, ObservedPane


@dataclass(frozen=True)
class DesiredCheckin:
    """A recurring check-in from the manifest; `key` changes when `every` or `note` changes."""

    agent: str
    key: str
    every_s: float
    note: str


@dataclass(frozen=True)
class Schedule:
    """A stored check-in: recurring (from the manifest) or one-off (scheduled by an agent)."""

    id: int
    project: str
    agent: str
    source: str  # manifest | agent
    key: str | None
    every_s: float | None
    note: str
    next_due: float | None
    created_at: float
    failures: int = 0
    retry_after: float | None = None


@dataclass(frozen=True)
class Firing:
    """One delivery attempt of a schedule's due time: the ledger row (planned → typing → submitted)."""

    id: int
    schedule_id: int
    project: str
    agent: str
    due: float
    state: str  # planned | typing | submitted | failed | skipped
    marker: str
    missed: bool
    reason: str | None
    typed_at: float | None
    pane_id: str | None


@dataclass(frozen=True)
class CreditHold:
    """An agent that is out of credit: nothing orch sends reaches it before `until`."""

    project: str
    agent: str
    notice: str
    first_seen: float
    until: float
    attempt: int
    source: str  # screen | agent (its own report) | manual | cleared
    resumed: bool = False


@dataclass(frozen=True)
class FireCheckin(Action):
    project: str
    schedule: Schedule
    due: float
    pane: ObservedPane
    reanchor: bool  # missed or held back: the next one is due `every` after this delivery
    symbol = "~"
    counts_as = "none"

    @property
    def target(self) -> str:
        return f"check-in {self.schedule.agent}"

    @property
    def reason(self) -> str:
        late = " (missed while nothing ran)" if self.reanchor else ""
        return f"deliver {self.schedule.note[:60]!r}{late}"


@dataclass(frozen=True)
class SkipCheckin(Action):
    """A missed check-in under `missed: skip`: recorded, not delivered; the next is due `every` from now."""

    project: str
    schedule: Schedule
    due: float
    symbol = "~"
    counts_as = "none"

    @property
    def target(self) -> str:
        return f"check-in {self.schedule.agent}"

    @property
    def reason(self) -> str:
        return "missed while nothing ran: skipped (checkin_policy.missed: skip)"


@dataclass(frozen=True)
class RecoverFiring(Action):
    """A firing left in `typing` by a crashed process: look at the pane before anything is typed again."""

    project: str
    firing: Firing
    pane: ObservedPane | None
    symbol = "~"
    counts_as = "none"

    @property
    def target(self) -> str:
        return f"check-in {self.firing.agent}"

    @property
    def reason(self) -> str:
        return "interrupted delivery: check the screen for its marker"


@dataclass(frozen=True)
class SendResumeNote(Action):
    """An agent's credit hold ended: send `credit.resume_note` once."""

    project: str
    hold: CreditHold
    pane: ObservedPane
    note: str
    symbol = "~"
    counts_as = "none"

    @property
    def target(self) -> str:
        return f"resume {self.hold.agent}"

    @property
    def reason(self) -> str:
        return "credit reset passed: send the resume note"


