#!/usr/bin/env python3
"""Fault test: kill -9 the check-in watcher at random moments; nothing is typed twice, nothing is lost.

    .venv/bin/python benchmarks/fault_kill_watcher.py [--kills 50] [--agents 5] [--seed N] [--json]

K toy agents (default 5) have check-ins every 2 s or 3 s (alternating). One
`orch reconcile --watch FILE` runs; then, --kills times: wait a random 0.05-3 s, kill -9 the
watcher, wait a random 0-2 s (the downtime), start a new watcher. At the end the last watcher
runs until every agent has had a check-in from it, and is stopped cleanly (SIGTERM).

Counted from the agents' own logs (each submission with the toy agent's timestamp), with
markers mapped to ledger rows (schedule, due) by watching the store's `firings` table
during the run (a re-fired row gets a new marker, so the table alone forgets old ones):

  duplicates by marker      the same `[orch:xxxxxx]` submitted twice
  duplicates by due         two submissions for the same (schedule, due time)
  unmapped markers          a submitted marker no ledger row ever carried
  left in `typing`          firings still `typing` after the clean stop
  unexplained gaps          for each schedule, consecutive deliveries (the schedule's creation
                            counts as the first) more than `every` + tolerance apart, unless a
                            downtime explains it: the next delivery must then arrive within the
                            tolerance of the first moment after the interval at which a watcher
                            was working, i.e. after its first heartbeat and not within
                            --deliver-allow of its kill. With `fire_once` that allows exactly
                            one coalesced check-in per downtime and no more missing.

Exit 1 if there is any duplicate, unmapped marker, leftover `typing` row, unexplained gap, or a
watcher that exited by itself (e.g. "already watched") instead of being killed.
Also reported, not judged: kills that interrupted a firing, recoveries, orphaned
`tmux wait-for` clients of killed watchers. Runs on a private tmux server
(`-L orch-fault-<random>`) with a temporary ORCH_HOME and HOME, all removed at the end.
The same code runs, shorter, as tests/e2e/test_fault_kill_watcher.py.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.rig import (  # noqa: E402  (the path above first)
    Delivery, Rig, install_signal_handlers, isolate_environment, log, wait_until,
)


@dataclass(frozen=True)
class FaultConfig:
    agents: int = 5
    every: tuple[int, ...] = (2, 3)  # intervals in seconds, assigned to agents in turn
    kills: int = 50
    seed: int = 20260101
    alive: tuple[float, float] = (0.05, 3.0)  # how long a watcher lives before kill -9 (uniform)
    downtime: tuple[float, float] = (0.0, 2.0)  # how long until the next watcher starts (uniform)
    tolerance: float = 1.0  # on top of `every` between deliveries, and after a watcher becomes able to fire
    deliver_allow: float = 1.5  # a watcher killed this soon after a due time may not have finished delivering it
    poll: float = 0.02  # how often the store is watched for markers and heartbeats
    prefix: str = "orch-fault"


def fault_note(project: str, agent: str, every: int) -> str:
    return f"Fault check for {project}/{agent} every {every}s"


# -- watching the store while the watcher is killed ---------------------------------------------


@dataclass(frozen=True)
class MarkedFiring:
    marker: str
    schedule_id: int
    due: float
    missed: bool


class StoreWatch(threading.Thread):
    """Polls the store: every marker a firing row ever carried, and each watcher pid's first heartbeat."""

    def __init__(self, rig: Rig, poll: float):
        super().__init__(name="store-watch", daemon=True)
        self.rig, self.poll = rig, poll
        self.markers: dict[str, MarkedFiring] = {}
        self.first_heartbeat: dict[int, float] = {}
        self.error: BaseException | None = None
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def run(self) -> None:
        try:
            self._conn = self.rig.connect()
            while not self._halt.is_set():
                self.sample()
                self._halt.wait(self.poll)
            self.sample()
        except BaseException as err:  # reported by finish()
            self.error = err
        finally:
            if self._conn is not None:
                self._conn.close()

    def sample(self) -> None:
        assert self._conn is not None
        firings = self._conn.execute(
            "SELECT marker, schedule_id, due, missed FROM firings WHERE marker != ''").fetchall()
        beats = self._conn.execute("SELECT pid, heartbeat FROM watchers").fetchall()
        with self._lock:
            for row in firings:
                self.markers.setdefault(row["marker"], MarkedFiring(row["marker"], row["schedule_id"], row["due"],
                                                                    bool(row["missed"])))
            for row in beats:
                pid, beat = row["pid"], row["heartbeat"]
                self.first_heartbeat[pid] = min(beat, self.first_heartbeat.get(pid, beat))

    def heartbeat_of(self, pid: int) -> float | None:
        with self._lock:
            return self.first_heartbeat.get(pid)

    def finish(self) -> None:
        self._halt.set()
        self.join(timeout=30)
        if self.error is not None:
            raise RuntimeError(f"watching the store failed: {self.error!r}") from self.error


# -- the run -------------------------------------------------------------------------------------


@dataclass
class Incarnation:
    """One watcher process: when it was started, when it ended (killed or stopped)."""

    pid: int
    started: float
    ended: float | None = None
    killed: bool = False
    first_heartbeat: float | None = None
    exit_code: int | None = None  # -9 when our kill ended it; anything else: it had exited on its own
    interrupted_firings: int = 0  # `typing` rows left right after its kill -9


@dataclass(frozen=True)
class ScheduleInfo:
    id: int
    agent: str
    every_s: float
    note: str
    created_at: float


@dataclass
class FaultReport:
    config: dict[str, Any]
    run_s: float = 0.0
    kills: int = 0
    downtime_s: float = 0.0
    deliveries: int = 0
    deliveries_per_agent: dict[str, int] = field(default_factory=dict)
    coalesced_deliveries: int = 0  # submitted firings marked `missed` (one per schedule per downtime, at most)
    intervals_coalesced_away: int = 0  # intervals not delivered because a downtime covered them
    duplicate_markers: list[str] = field(default_factory=list)
    duplicate_dues: list[dict[str, Any]] = field(default_factory=list)
    unmapped_markers: list[str] = field(default_factory=list)
    note_mismatches: list[str] = field(default_factory=list)
    typing_left: int = 0
    failed_firings: int = 0
    unexplained_gaps: list[dict[str, Any]] = field(default_factory=list)
    gaps_checked: int = 0
    short_gaps: list[dict[str, Any]] = field(default_factory=list)  # closer than `every` - tolerance: a burst
    gaps_explained_by_downtime: int = 0
    kills_interrupting_a_firing: int = 0
    recovered_typed: int = 0
    recovered_not_typed: int = 0
    orphaned_wait_for_clients: int = 0
    stale_wake_fifos: int = 0
    watchers_without_heartbeat: int = 0
    watchers_exited_before_kill: list[str] = field(default_factory=list)
    final_watcher_exit: int | None = None

    @property
    def ok(self) -> bool:
        return not (self.duplicate_markers or self.duplicate_dues or self.unmapped_markers or self.note_mismatches
                    or self.typing_left or self.unexplained_gaps or self.watchers_exited_before_kill) \
            and self.deliveries > 0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def agent_intervals(config: FaultConfig) -> dict[str, int]:
    return {f"a{i}": config.every[i % len(config.every)] for i in range(config.agents)}


def run_fault(work: Path, config: FaultConfig, progress: Callable[[str], None] = log) -> FaultReport:
    """Run the fault schedule on a fresh rig under `work`; the rig is torn down before returning."""
    rng = random.Random(config.seed)
    rig = Rig(work, prefix=config.prefix)
    watch: StoreWatch | None = None
    try:
        manifest = rig.write_project("fault", agent_intervals(config), fault_note)
        rig.apply(manifest)
        watch = StoreWatch(rig, config.poll)
        watch.start()
        began = time.time()
        incarnations: list[Incarnation] = []

        def start() -> Incarnation:
            incarnations.append(Incarnation(pid=0, started=time.time()))
            incarnations[-1].pid = rig.start_watcher(str(manifest), "--interval", "30").pid
            return incarnations[-1]

        current, proc = start(), rig.watchers[-1]
        progress(f"fault: {config.agents} agents every {'/'.join(map(str, config.every))} s, {config.kills} kills "
                 f"(seed {config.seed}) on tmux server {rig.socket}")
        downtime = 0.0
        for kill in range(config.kills):
            time.sleep(rng.uniform(*config.alive))  # the fault schedule, not a wait for state
            current.ended, current.killed = time.time(), True
            rig.kill_watcher(proc)
            current.exit_code = proc.returncode
            current.interrupted_firings = rig.query("SELECT COUNT(*) FROM firings WHERE state = 'typing'")[0][0]
            pause = rng.uniform(*config.downtime)
            downtime += pause
            time.sleep(pause)
            current, proc = start(), rig.watchers[-1]
            if (kill + 1) % 10 == 0 or kill + 1 == config.kills:
                progress(f"  {kill + 1}/{config.kills} kills, {len(rig.deliveries())} submissions so far")

        # The last watcher runs undisturbed until every agent had a check-in from it, then stops cleanly.
        rig.wait_for_heartbeat(proc, timeout=60)
        ready = wait_until(lambda: watch.heartbeat_of(proc.pid), timeout=10, what="the store watch's heartbeat")
        longest = max(config.every)

        def everyone_served() -> bool:
            latest: dict[str, float] = {}
            for d in rig.deliveries():
                if d.marker:
                    latest[d.agent] = max(d.ts, latest.get(d.agent, 0.0))
            return all(latest.get(agent, 0.0) > ready + longest for agent in agent_intervals(config))

        wait_until(everyone_served, timeout=longest * 4 + 60, what="a check-in for every agent from the last watcher",
                   interval=0.2)
        current.ended = time.time()
        exit_code = rig.stop_watcher(proc)
        watch.finish()
        for inc in incarnations:
            inc.first_heartbeat = watch.heartbeat_of(inc.pid)

        schedules = [ScheduleInfo(r["id"], r["agent"], r["every_s"], r["note"], r["created_at"])
                     for r in rig.query("SELECT * FROM schedules WHERE project = 'fault' ORDER BY id")]
        report = analyse(config, rig.deliveries(), schedules, watch.markers, incarnations, current.ended)
        report.run_s = round(current.ended - began, 1)
        report.kills = config.kills
        report.downtime_s = round(downtime, 1)
        report.final_watcher_exit = exit_code
        report.typing_left = rig.query("SELECT COUNT(*) FROM firings WHERE state = 'typing'")[0][0]
        report.failed_firings = rig.query("SELECT COUNT(*) FROM firings WHERE state = 'failed'")[0][0]
        report.coalesced_deliveries = rig.query(
            "SELECT COUNT(*) FROM firings WHERE state = 'submitted' AND missed = 1")[0][0]
        for row in rig.query("SELECT message FROM events WHERE kind = 'checkin.recovered'"):
            if "had been typed" in row["message"]:
                report.recovered_typed += 1
            else:
                report.recovered_not_typed += 1
        report.kills_interrupting_a_firing = sum(1 for inc in incarnations if inc.killed and inc.interrupted_firings)
        report.watchers_exited_before_kill = [
            f"pid {w.pid} exit {w.returncode}: {rig.watcher_output(w).strip()[-300:]}"
            for w, inc in zip(rig.watchers, incarnations) if inc.killed and inc.exit_code != -9]
        report.orphaned_wait_for_clients = len(rig.client_processes("wait-for"))
        report.stale_wake_fifos = len(list((rig.home / "run").glob("wake-*.fifo")))
        return report
    finally:
        try:
            if watch is not None and watch.is_alive():
                watch._halt.set()
                watch.join(timeout=10)
        finally:
            rig.close()


# -- judging -------------------------------------------------------------------------------------


def working_windows(incarnations: list[Incarnation], deliver_allow: float) -> list[tuple[float, float]]:
    """When some watcher could be counted on to fire: from its first heartbeat to `deliver_allow` before its end."""
    windows = []
    for inc in incarnations:
        if inc.first_heartbeat is None or inc.ended is None:
            continue
        end = inc.ended - deliver_allow if inc.killed else inc.ended
        if end > inc.first_heartbeat:
            windows.append((inc.first_heartbeat, end))
    return sorted(windows)


def first_working_moment(windows: list[tuple[float, float]], at_or_after: float) -> float | None:
    for start, end in windows:
        if end >= at_or_after:
            return max(start, at_or_after)
    return None


def analyse(config: FaultConfig, deliveries: list[Delivery], schedules: list[ScheduleInfo],
            markers: dict[str, MarkedFiring], incarnations: list[Incarnation], stopped: float) -> FaultReport:
    report = FaultReport(config=asdict(config))
    checkins = [d for d in deliveries if d.marker]
    report.deliveries = len(checkins)
    report.deliveries_per_agent = dict(sorted(Counter(d.agent for d in checkins).items()))
    report.watchers_without_heartbeat = sum(1 for inc in incarnations if inc.first_heartbeat is None)
    by_id = {s.id: s for s in schedules}
    by_note = {s.note: s for s in schedules}

    # duplicates: by marker, and by (schedule, due) through the markers the ledger rows carried
    report.duplicate_markers = sorted(m for m, n in Counter(d.marker for d in checkins).items() if n > 1)
    per_due: dict[tuple[int, float], list[Delivery]] = {}
    for d in checkins:
        firing = markers.get(d.marker or "")
        if firing is None:
            report.unmapped_markers.append(d.marker or "")
            continue
        schedule = by_id.get(firing.schedule_id)
        if schedule is None or schedule.note != d.note:
            report.note_mismatches.append(f"{d.marker}: logged note {d.note!r}, ledger schedule {firing.schedule_id}")
        per_due.setdefault((firing.schedule_id, firing.due), []).append(d)
    for (schedule_id, due), found in sorted(per_due.items()):
        if len(found) > 1:
            report.duplicate_dues.append({"schedule": schedule_id, "due": due, "markers": [d.marker for d in found],
                                          "agent_log_ts": [d.ts for d in found]})

    # gaps: every interval delivered, except the ones a downtime coalesced into one
    windows = working_windows(incarnations, config.deliver_allow)
    tol = config.tolerance
    for schedule in schedules:
        times = sorted(d.ts for d in checkins if by_note.get(d.note or "") is schedule)
        previous = schedule.created_at  # first due `every` after the schedule was made
        for following in [*times, None]:
            due_next = previous + schedule.every_s
            working = first_working_moment(windows, due_next)
            if following is None:  # after the last delivery: was one owed before the clean stop?
                if working is not None and working + tol < stopped:
                    report.unexplained_gaps.append(_gap(schedule, previous, None, working, stopped))
                break
            report.gaps_checked += 1
            gap = following - previous
            if gap < schedule.every_s - tol and previous != schedule.created_at:
                report.short_gaps.append(_gap(schedule, previous, following, due_next, stopped))
            if gap > schedule.every_s + tol:
                if working is not None and following > working + tol:
                    report.unexplained_gaps.append(_gap(schedule, previous, following, working, stopped))
                else:
                    report.gaps_explained_by_downtime += 1
                    report.intervals_coalesced_away += max(0, int((gap - tol) // schedule.every_s) - 1)
            previous = following
    return report


def _gap(schedule: ScheduleInfo, previous: float, following: float | None, working: float,
         stopped: float) -> dict[str, Any]:
    return {"agent": schedule.agent, "every_s": schedule.every_s, "previous": round(previous, 3),
            "next": None if following is None else round(following, 3),
            "gap_s": round((following if following is not None else stopped) - previous, 3),
            "owed_by": round(working, 3)}


def render(report: FaultReport) -> str:
    c = report.config
    lines = [
        f"fault test: {c['agents']} toy agents, check-ins every {'/'.join(map(str, c['every']))} s, "
        f"{report.kills} kill -9 of the watcher (alive {c['alive'][0]}-{c['alive'][1]} s, down "
        f"{c['downtime'][0]}-{c['downtime'][1]} s, seed {c['seed']}), {report.run_s} s in all, "
        f"{report.downtime_s} s of downtime",
        f"  check-ins submitted (agents' logs)      {report.deliveries}  {report.deliveries_per_agent}",
        f"  duplicates by marker                    {len(report.duplicate_markers)}",
        f"  duplicates by (schedule, due)           {len(report.duplicate_dues)}",
        f"  markers no ledger row carried           {len(report.unmapped_markers)}",
        f"  notes not matching their ledger row     {len(report.note_mismatches)}",
        f"  firings left in `typing`                {report.typing_left}",
        f"  unexplained gaps (lost check-ins)       {len(report.unexplained_gaps)} of {report.gaps_checked} gaps "
        f"(tolerance {c['tolerance']} s)",
        f"  deliveries closer than every - tol      {len(report.short_gaps)} (reported, not judged)",
        f"  gaps explained by a downtime            {report.gaps_explained_by_downtime} "
        f"(intervals coalesced away: {report.intervals_coalesced_away}; missed check-ins delivered once: "
        f"{report.coalesced_deliveries})",
        f"  kills that interrupted a firing         {report.kills_interrupting_a_firing} "
        f"(recovered: {report.recovered_typed} had been typed, {report.recovered_not_typed} had not)",
        f"  failed firings                          {report.failed_firings}",
        f"  watchers killed before any heartbeat    {report.watchers_without_heartbeat}",
        f"  watchers that exited before their kill  {len(report.watchers_exited_before_kill)}",
        f"  orphaned `tmux wait-for` clients         {report.orphaned_wait_for_clients} "
        f"(stale wake FIFOs: {report.stale_wake_fifos})",
        f"  last watcher stopped with exit          {report.final_watcher_exit}",
        f"  verdict                                 {'PASS' if report.ok else 'FAIL'}",
    ]
    for gap in report.unexplained_gaps:
        lines.append(f"    unexplained gap: {gap}")
    for gap in report.short_gaps:
        lines.append(f"    short gap: {gap}")
    for dup in report.duplicate_dues:
        lines.append(f"    duplicate: {dup}")
    for exited in report.watchers_exited_before_kill:
        lines.append(f"    exited on its own: {exited}")
    for marker in report.unmapped_markers:
        lines.append(f"    unmapped marker: {marker}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    defaults = FaultConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=defaults.kills, help="kill -9 this many times (default 50)")
    parser.add_argument("--agents", type=int, default=defaults.agents, help="toy agents (default 5)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of the fault schedule")
    parser.add_argument("--tolerance", type=float, default=defaults.tolerance,
                        help="seconds allowed on top of the interval (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the text")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (toy logs, store)")
    args = parser.parse_args(argv)
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is not installed")
    config = FaultConfig(agents=args.agents, kills=args.kills, seed=args.seed, tolerance=args.tolerance)
    work = Path(tempfile.mkdtemp(prefix="orch-fault-"))
    isolate_environment(work)
    install_signal_handlers()
    try:
        report = run_fault(work / "rig", config)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report.as_dict(), indent=2) if args.json else render(report))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
