#!/usr/bin/env python3
"""Many projects, one watcher, one board: is it punctual, and what does it cost?

    .venv/bin/python benchmarks/bench_board.py [--projects 10] [--agents 10] [--seconds 60] [--json]

On a private tmux server with temporary ORCH_HOME and HOME (benchmarks/rig.py):

  busy        --projects x --agents toy agents, a check-in every 10 s each, one
              `orch reconcile --watch` over every registered project. Over --seconds: check-in
              lateness (firings.typed_at - due, p50/p99), duplicates (two firings of one due
              moment, or a marker the agents received twice), the watcher's own CPU as % of one
              core and per delivery.
  board       `orch status -o json` as a whole process over all the agents, and over 3 projects
              (the others destroyed afterwards), median of 5; `orch metrics -o json` likewise.
  idle        the same agents with check-ins every 30 min (manifests re-applied): the watcher's
              CPU over --idle-seconds after one full resync.

Baselines in the same run: a bare `python3 -c pass` (the start-up floor of any orch command),
one `tmux list-panes -a` over all panes, and the issue's targets (lateness p99 0.5 s, watcher
10 % of a core and 10 ms CPU per delivery, status 250 ms / 150 ms, idle 0.5 %). Nothing here
asserts on time.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # so `reconciler` imports even from a plain checkout
    sys.path.insert(0, str(REPO))

from benchmarks.rig import (  # noqa: E402  (the path above first)
    Rig, cpu_seconds, distribution_ms, isolate_environment, log, median_ms, ratio, run_and_print,
)

BUSY_EVERY_S, IDLE_EVERY_S = 10, 1800
INTERVAL_S = 30.0
TARGETS = {"lateness_p99_ms": 500.0, "busy_percent": 10.0, "cpu_ms_per_delivery": 10.0,
           "status_all_ms": 250.0, "status_three_ms": 150.0, "idle_percent": 0.5}


def write_projects(rig: Rig, projects: int, agents: int, every: int) -> list[Path]:
    return [rig.write_project(f"board{p}", {f"a{i:02d}": every for i in range(agents)},
                              lambda project, agent, _: f"Status check for {project}/{agent}: report to pm")
            for p in range(projects)]


def watcher_percent(pid: int, seconds: float) -> tuple[float, float]:
    """(% of one core, CPU seconds) of the watcher over `seconds` from now."""
    before, start = cpu_seconds(pid)[0], time.monotonic()
    time.sleep(seconds)  # the measurement window itself
    used = cpu_seconds(pid)[0] - before
    return 100 * used / (time.monotonic() - start), used


def busy(rig: Rig, watcher, seconds: float) -> dict[str, Any]:
    first = time.time()
    percent, used = watcher_percent(watcher.pid, seconds)
    rows = rig.query("SELECT schedule_id, due, typed_at FROM firings WHERE state = 'submitted' AND due >= ?",
                     (first,))
    lateness = [r["typed_at"] - r["due"] for r in rows if r["typed_at"] is not None]
    markers = Counter(d.marker for d in rig.deliveries() if d.marker)
    doubled_rows = rig.query("SELECT COUNT(*) FROM (SELECT schedule_id, due FROM firings GROUP BY schedule_id, due"
                             " HAVING COUNT(*) > 1)")[0][0]
    return {"measured_s": seconds, "deliveries": len(rows), "lateness": distribution_ms(lateness),
            "late_over_1s": sum(x > 1.0 for x in lateness),
            "duplicates": doubled_rows + sum(n - 1 for n in markers.values() if n > 1),
            "watcher_percent_of_one_core": round(percent, 2),
            "watcher_cpu_ms_per_delivery": round(1000 * used / len(rows), 2) if rows else None}


def timed(rig: Rig, *args: str) -> float:
    return median_ms(lambda: rig.run_orch(*args), runs=5, warmup=1)


def run(projects: int, agents: int, seconds: float, idle_seconds: float) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="orch-bench-board-"))
    isolate_environment(work)
    rig = Rig(work, prefix="orch-board")
    try:
        log(f"benchmarking in {work} on tmux server {rig.socket}: {projects} x {agents} toy agents")
        manifests = write_projects(rig, projects, agents, BUSY_EVERY_S)
        for manifest in manifests:
            rig.apply(manifest)
        floor_ms = median_ms(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), runs=5, warmup=1)
        list_panes_ms = median_ms(lambda: rig.tmux("list-panes", "-a", check=True), runs=20)
        watcher = rig.start_watcher()
        rig.wait_for_heartbeat(watcher)
        time.sleep(BUSY_EVERY_S + 2)  # warm-up: every schedule has fired once
        log(f"  busy for {seconds:.0f} s (a check-in every {BUSY_EVERY_S} s per agent)")
        busy_part = busy(rig, watcher, seconds)
        log("  the board")
        board = {"status_all_ms": timed(rig, "status", "-o", "json"),
                 "metrics_all_ms": timed(rig, "metrics", "-o", "json")}
        log(f"  idle: check-ins every {IDLE_EVERY_S} s, {idle_seconds:.0f} s after a full resync")
        for manifest in write_projects(rig, projects, agents, IDLE_EVERY_S):
            rig.apply(manifest)
        time.sleep(INTERVAL_S + 2)  # the watcher re-reads the manifests on its next full resync
        idle_percent, _ = watcher_percent(watcher.pid, idle_seconds)
        rig.stop_watcher(watcher)
        for p in range(3, projects):
            rig.run_orch("destroy", f"board{p}", "--yes")
        board["status_three_ms"] = timed(rig, "status", "-o", "json")
    finally:
        rig.close()
        shutil.rmtree(work, ignore_errors=True)
    lateness = busy_part["lateness"]
    return {
        "projects": projects, "agents": projects * agents, "busy": busy_part, "board": board,
        "idle": {"measured_s": idle_seconds, "watcher_percent_of_one_core": round(idle_percent, 3)},
        "baseline": {"python_start_ms": floor_ms, "tmux_list_panes_ms": list_panes_ms, "targets": TARGETS},
        "ratios": {
            "lateness_p99_over_target": ratio(lateness["p99_ms"], TARGETS["lateness_p99_ms"]),
            "busy_cpu_over_target": ratio(busy_part["watcher_percent_of_one_core"], TARGETS["busy_percent"]),
            "cpu_per_delivery_over_target": ratio(busy_part["watcher_cpu_ms_per_delivery"],
                                                  TARGETS["cpu_ms_per_delivery"]),
            "status_all_over_target": ratio(board["status_all_ms"], TARGETS["status_all_ms"]),
            "status_three_over_target": ratio(board["status_three_ms"], TARGETS["status_three_ms"]),
            "status_all_over_python_start": ratio(board["status_all_ms"], floor_ms),
            "idle_over_target": ratio(round(idle_percent, 3), TARGETS["idle_percent"]),
        },
    }


def render(s: dict[str, Any]) -> str:
    b, board, base, r = s["busy"], s["board"], s["baseline"], s["ratios"]
    lat = b["lateness"]
    return "\n".join([
        f"orch board benchmark: {s['projects']} projects, {s['agents']} toy agents, one watcher",
        f"  busy ({b['measured_s']:g} s, {b['deliveries']} check-ins): lateness p50 {lat['p50_ms']} ms, "
        f"p99 {lat['p99_ms']} ms, max {lat['max_ms']} ms; {b['late_over_1s']} over 1 s; duplicates {b['duplicates']}",
        f"  watcher: {b['watcher_percent_of_one_core']} % of one core, {b['watcher_cpu_ms_per_delivery']} ms CPU "
        f"per delivery",
        f"  board: status -o json {board['status_all_ms']} ms over {s['agents']} agents, "
        f"{board['status_three_ms']} ms over 3 projects; metrics -o json {board['metrics_all_ms']} ms",
        f"  idle (check-ins every 30 min): {s['idle']['watcher_percent_of_one_core']} % of one core",
        f"  baselines: python3 -c pass {base['python_start_ms']} ms; tmux list-panes -a {base['tmux_list_panes_ms']} ms",
        "  ratios to the targets (under 1 meets): " + ", ".join(f"{k} {v}" for k, v in r.items()),
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--agents", type=int, default=10, help="per project")
    parser.add_argument("--seconds", type=float, default=60.0, help="busy window (default 60)")
    parser.add_argument("--idle-seconds", type=float, default=30.0, help="idle window (default 30)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    args = parser.parse_args(argv)
    return run_and_print(lambda: run(args.projects, args.agents, args.seconds, args.idle_seconds), render, args.json)


if __name__ == "__main__":
    sys.exit(main())
