#!/usr/bin/env python3
"""How punctual and how cheap is the check-in watcher (`orch reconcile --watch`)?

    .venv/bin/python benchmarks/bench_checkins.py [--quick] [--json] [--firings N] [--idle-seconds S]

Everything runs on a private tmux server (`tmux -L orch-bench-<random>`, killed and its
socket removed at the end, also on Ctrl-C) with a temporary ORCH_HOME and HOME, so no user
tmux config is read and no user state is touched. Agents are the bundled toy agent
(`orch-toyagent --log FILE`), which logs each submission with its own timestamp.

  a) lateness     10 toy agents with check-ins every 2 s or 3 s (alternating, so every 6 s
                  all ten are due in the same second), one `orch reconcile --watch FILE`;
                  at least N firings (default 400, --quick 200). For each firing the due
                  time comes from the store (`firings.due`), the submission time from the
                  agent's own log (joined on the `[orch:xxxxxx]` marker). Reported:
                  p50/p95/p99/max of (agent log ts - due), of (firings.typed_at - due) and of
                  the paste moment recorded in the `checkin.delivered` event, and how many
                  were later than 1 s.
  b) idle CPU     3 projects x 10 toy agents, check-ins every 1 h (nothing fires), one
                  watcher over every registered project (no FILE, default --interval 30);
                  the watcher's own CPU (utime+stime from /proc/<pid>/stat) over 60 s
                  (--quick: 20 s) after a warm-up, as % of one core; the same with
                  --interval 5 for context. The CPU of the watcher's reaped children and of
                  the tmux server over the same window are shown beside it.
  c) due query    10,000 schedules in a real store (reconciler.state.store.Store):
                  checkin_records.schedules(store, project) and checkin_records.earliest_due on one project of
                  10,000 and on one project of 10 among 1,000 such projects, and a raw
                  indexed `SELECT ... WHERE next_due <= ?` (median of many runs, ms).

Reference costs (from the issue) are measured again in the same run on the same tmux
server: typing a text + Enter with one chained tmux process, one capture-pane process.
Targets: check-in typed within 1 s of its due time (aim: p50 under 100 ms), idle watcher
under 0.5 % of one core, due query ~0.04 ms. Nothing here asserts on time.

The rig (private tmux server, temporary homes, toy-agent projects, watcher processes, the
store and the toy logs) is benchmarks/rig.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # so `reconciler` imports even from a plain checkout
    sys.path.insert(0, str(REPO))

from benchmarks.rig import (  # noqa: E402  (the path above first)
    run_and_print,
    Rig, cpu_seconds, distribution_ms, environment, isolate_environment, log, median_ms, ratio,
    wait_until,
)

LATE_TARGET_S = 1.0
P50_AIM_S = 0.100
IDLE_TARGET_PERCENT = 0.5
DUE_QUERY_REFERENCE_MS = 0.04
TYPE_REFERENCE_MS = 2.0
CAPTURE_REFERENCE_MS = 3.0


def checkin_note(project: str, agent: str, every: int) -> str:
    return f"Status check for {project}/{agent} every {every}s: commit and report"


# -- a) lateness ---------------------------------------------------------------------------------


def bench_lateness(rig: Rig, firings_wanted: int, agents: int = 10) -> dict[str, Any]:
    every = {f"a{i}": 2 if i % 2 == 0 else 3 for i in range(agents)}
    manifest = rig.write_project("late", every, checkin_note)
    rig.apply(manifest)
    watcher = rig.start_watcher(str(manifest), "--interval", "30")
    ready = rig.wait_for_heartbeat(watcher)
    rate = sum(1.0 / e for e in every.values())
    log(f"  lateness: watcher {watcher.pid} up; collecting {firings_wanted} firings (~{firings_wanted / rate:.0f} s)")

    def submitted() -> int:
        return rig.query("SELECT COUNT(*) FROM firings WHERE state = 'submitted' AND due >= ?", (ready,))[0][0]

    wait_until(lambda: submitted() >= firings_wanted, timeout=firings_wanted / rate * 3 + 60,
               what=f"{firings_wanted} submitted firings", interval=0.5)
    exit_code = rig.stop_watcher(watcher)

    rows = rig.query("SELECT * FROM firings WHERE project = 'late' ORDER BY due")
    by_marker = {d.marker: d for d in rig.deliveries() if d.project == "late" and d.marker}
    events = {}
    for row in rig.query("SELECT data FROM events WHERE kind = 'checkin.delivered' AND project = 'late'"):
        data = json.loads(row["data"])
        events[data.get("marker")] = data
    counted = [r for r in rows if r["state"] == "submitted" and r["due"] >= ready and not r["missed"]]
    in_log = [(r, by_marker[r["marker"]]) for r in counted if r["marker"] in by_marker]
    agent_late = [d.ts - r["due"] for r, d in in_log]
    typed_late = [r["typed_at"] - r["due"] for r in counted if r["typed_at"] is not None]
    paste_late = [events[r["marker"]]["late_s"] for r in counted if r["marker"] in events]
    states: dict[str, int] = {}
    for r in rows:
        states[r["state"]] = states.get(r["state"], 0) + 1
    return {
        "agents": agents,
        "every_s": sorted(set(every.values())),
        "watcher_exit": exit_code,
        "firings": len(counted),
        "firings_missing_from_agent_logs": len(counted) - len(in_log),
        "firings_missed_at_start_excluded": sum(1 for r in rows if r["missed"] or r["due"] < ready),
        "states": states,
        "agent_log_minus_due": distribution_ms(agent_late),
        "typed_at_minus_due": distribution_ms(typed_late),
        "paste_minus_due_from_event": distribution_ms(paste_late),
        "later_than_1s": sum(1 for x in agent_late if x > LATE_TARGET_S),
    }


# -- reference costs, measured on the same server -------------------------------------------------


def bench_reference(rig: Rig, runs: int) -> dict[str, Any]:
    """One chained tmux process typing a text + Enter, and one capture-pane process (median ms)."""
    rig.tmux("new-session", "-d", "-s", "reference", "-x", "220", "-y", "50", "cat > /dev/null", check=True)
    pane = rig.tmux("display-message", "-p", "-t", "=reference:", "#{pane_id}", check=True).stdout.strip()
    text = checkin_note("reference", "agent", 2) + " [orch:abcdef]"
    type_s, capture_s = [], []
    for _ in range(runs + 3):
        start = time.perf_counter()
        rig.tmux("send-keys", "-t", pane, "-l", text, ";", "send-keys", "-t", pane, "Enter", check=True)
        type_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        rig.tmux("capture-pane", "-p", "-t", pane, check=True)
        capture_s.append(time.perf_counter() - start)
    rig.tmux("kill-session", "-t", "=reference")
    return {"type_text_and_enter_one_tmux_process_ms": round(statistics.median(type_s[3:]) * 1000, 2),
            "capture_pane_one_process_ms": round(statistics.median(capture_s[3:]) * 1000, 2), "runs": runs}


# -- b) idle CPU ---------------------------------------------------------------------------------


def bench_idle(rig: Rig, seconds: float, warmup: float, intervals: list[float],
               projects: int = 3, agents: int = 10) -> dict[str, Any]:
    for p in range(projects):
        manifest = rig.write_project(f"idle{p}", {f"a{i}": 3600 for i in range(agents)}, checkin_note)
        rig.apply(manifest)
    server = rig.server_pid()
    results = []
    for interval in intervals:
        args = [] if interval == 30 else ["--interval", f"{interval:g}"]  # 30 is the default
        watcher = rig.start_watcher(*args)
        rig.wait_for_heartbeat(watcher)
        watched = rig.query("SELECT COUNT(*) FROM watchers WHERE pid = ?", (watcher.pid,))[0][0]
        log(f"  idle: watcher {watcher.pid} (--interval {interval:g}) over {watched} projects; "
            f"{warmup:.0f} s warm-up, then {seconds:.0f} s measured")
        time.sleep(warmup)  # part of the measurement protocol, not a wait for state
        own0, children0 = cpu_seconds(watcher.pid)
        server0 = cpu_seconds(server)[0] if server else 0.0
        beats = {rig.heartbeat(watcher.pid)}
        start = time.monotonic()
        while time.monotonic() - start < seconds:  # sample the heartbeat: how many passes ran
            time.sleep(min(0.5, max(0.0, seconds - (time.monotonic() - start))))
            beats.add(rig.heartbeat(watcher.pid))
        elapsed = time.monotonic() - start
        own1, children1 = cpu_seconds(watcher.pid)
        server1 = cpu_seconds(server)[0] if server else 0.0
        fired = rig.query("SELECT COUNT(*) FROM firings")[0][0]
        exit_code = rig.stop_watcher(watcher)
        results.append({
            "interval_s": interval,
            "projects_watched": watched,
            "agents": projects * agents,
            "measured_s": round(elapsed, 2),
            "watcher_cpu_s": round(own1 - own0, 3),
            "watcher_percent_of_one_core": round(100 * (own1 - own0) / elapsed, 3),
            "reaped_children_cpu_s": round(children1 - children0, 3),
            "with_children_percent_of_one_core": round(100 * (own1 - own0 + children1 - children0) / elapsed, 3),
            "tmux_server_percent_of_one_core": round(100 * (server1 - server0) / elapsed, 3),
            "passes_during_measurement": len(beats) - 1,
            "firings_during_measurement": fired,
            "watcher_exit": exit_code,
            "clock_tick_s": round(1 / os.sysconf("SC_CLK_TCK"), 3),
        })
    return {"runs": results}


# -- c) the due query ----------------------------------------------------------------------------


def fill_store(home: Path, layout: list[tuple[str, int]], now: float) -> Any:
    """A real store with schedules due over the next day (a handful already due), like a busy watcher's."""
    from reconciler.state.store import Store

    store = Store(home, maintain=True)
    rows, n = [], 0
    for project, count in layout:
        for i in range(count):
            n += 1
            due = now - 1 if n % 2000 == 0 else now + 1 + (n * 7919) % 86400  # ~5 due now, the rest spread
            rows.append((project, f"a{i % 1000}", "manifest", f"a{i}#0#{n:08x}", 1800.0, "Status check",
                         due, now - 60))
    with store.transaction():
        store.conn.executemany(
            "INSERT INTO schedules (project, agent, source, key, every_s, note, next_due, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    store.conn.execute("ANALYZE")
    return store


def bench_due_query(work: Path, runs: int) -> dict[str, Any]:
    from reconciler.state import checkins as checkin_records
    now = time.time()
    big = fill_store(work / "due-one-project", [("big", 10_000)], now)
    many = fill_store(work / "due-many-projects", [(f"p{i:04d}", 10) for i in range(1000)], now)
    raw_sql = "SELECT id, next_due FROM schedules WHERE next_due <= ? ORDER BY next_due"
    plan = " / ".join(row[-1] for row in big.conn.execute("EXPLAIN QUERY PLAN " + raw_sql, (now,)))
    due_now = len(big.conn.execute(raw_sql, (now,)).fetchall())
    result = {
        "schedules": 10_000,
        "runs": runs,
        "raw_indexed_select_due_ms": median_ms(lambda: big.conn.execute(raw_sql, (now,)).fetchall(), runs),
        "raw_select_min_next_due_ms": median_ms(
            lambda: big.conn.execute("SELECT MIN(next_due) FROM schedules").fetchone(), runs),
        "raw_rows_due": due_now,
        "raw_query_plan": plan,
        "ledger_schedules_one_project_of_10000_ms": median_ms(lambda: checkin_records.schedules(big, "big"),
                                                              max(20, runs // 20)),
        "ledger_earliest_due_one_project_of_10000_ms": median_ms(lambda: checkin_records.earliest_due(big, ["big"]), runs),
        "ledger_schedules_10_of_10000_in_1000_projects_ms": median_ms(lambda: checkin_records.schedules(many, "p0500"), runs),
        "ledger_earliest_due_10_of_10000_in_1000_projects_ms": median_ms(
            lambda: checkin_records.earliest_due(many, ["p0500"]), runs),
        "ledger_earliest_due_all_1000_projects_ms": median_ms(
            lambda: checkin_records.earliest_due(many, [f"p{i:04d}" for i in range(1000)]), max(20, runs // 10)),
    }
    big.close()
    many.close()
    return result


# -- report --------------------------------------------------------------------------------------


def summarize(lateness: dict, idle: dict, due: dict, reference: dict, quick: bool, load_before: float) -> dict:
    agent = lateness["agent_log_minus_due"]
    idle_default = next((r for r in idle["runs"] if r["interval_s"] == 30), None)
    type_ms = reference["type_text_and_enter_one_tmux_process_ms"]
    capture_ms = reference["capture_pane_one_process_ms"]
    p50 = agent["p50_ms"]
    return {
        "quick": quick,
        "environment": environment(load_before, tmux=["tmux", "-V"]),
        "lateness": lateness,
        "idle_cpu": idle,
        "due_query": due,
        "reference_same_run": reference,
        "ratios": {
            "lateness_p50_over_100ms_aim": ratio(p50, P50_AIM_S * 1000),
            "lateness_p99_over_1s_target": ratio(agent["p99_ms"], LATE_TARGET_S * 1000),
            "lateness_max_over_1s_target": ratio(agent["max_ms"], LATE_TARGET_S * 1000),
            "lateness_p50_over_type_plus_capture_measured": ratio(p50, type_ms + capture_ms),
            "type_measured_over_2ms_reference": ratio(type_ms, TYPE_REFERENCE_MS),
            "capture_measured_over_3ms_reference": ratio(capture_ms, CAPTURE_REFERENCE_MS),
            "idle_percent_over_0.5_target": ratio(idle_default["watcher_percent_of_one_core"], IDLE_TARGET_PERCENT)
            if idle_default else None,
            "raw_due_query_over_0.04ms_reference": ratio(due["raw_indexed_select_due_ms"], DUE_QUERY_REFERENCE_MS),
            "ledger_schedules_10k_over_raw_measured": ratio(due["ledger_schedules_one_project_of_10000_ms"],
                                                            due["raw_indexed_select_due_ms"]),
            "ledger_earliest_due_10k_over_0.04ms_reference": ratio(
                due["ledger_earliest_due_one_project_of_10000_ms"], DUE_QUERY_REFERENCE_MS),
        },
        "targets": {
            "every_checkin_within_1s (agent log)": lateness["later_than_1s"] == 0 and lateness["firings"] > 0,
            "p50_under_100ms_aim (agent log)": p50 is not None and p50 < P50_AIM_S * 1000,
            "at_least_200_firings": lateness["firings"] >= 200,
            "idle_under_0.5_percent (interval 30)": idle_default["watcher_percent_of_one_core"] < IDLE_TARGET_PERCENT
            if idle_default else None,
        },
    }


def render_table(s: dict) -> str:
    lat, env, r, t = s["lateness"], s["environment"], s["ratios"], s["targets"]

    def row(label: str, d: dict) -> str:
        cells = " ".join(f"{'n/a' if d[k] is None else d[k]:>8}" for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))
        return f"  {label:44} {d['n']:>5} {cells}"

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("meets" if ok else "MISSES")

    def fmt(x: Any, suffix: str = "x") -> str:
        return "n/a" if x is None else f"{x:.3g}{suffix}"

    ref = s["reference_same_run"]
    due = {k: ("n/a" if v is None else v) for k, v in s["due_query"].items()}
    lines = [
        f"orch check-in watcher benchmark{' (--quick)' if s['quick'] else ''}: python {env['python']}, "
        f"{env['tmux']}, {env['cpus']} cpus, load average (1 min) before/after: "
        f"{env['loadavg_1m_before_after'][0]}/{env['loadavg_1m_before_after'][1]}",
        "",
        f"a) lateness: {lat['agents']} toy agents, check-ins every {'/'.join(map(str, lat['every_s']))} s, "
        f"one watcher; {lat['firings']} firings (excluded: {lat['firings_missed_at_start_excluded']} due before "
        f"the watcher was up; not found in the agents' logs: {lat['firings_missing_from_agent_logs']})",
        f"  {'':44} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}",
        row("agent's log ts - due (submitted)", lat["agent_log_minus_due"]),
        row("paste moment - due (checkin.delivered late_s)", lat["paste_minus_due_from_event"]),
        row("firings.typed_at - due (ledger 'typing' row)", lat["typed_at_minus_due"]),
        f"  later than 1 s (agent log): {lat['later_than_1s']}; ledger states: {lat['states']}; "
        f"watcher exit {lat['watcher_exit']}",
        "",
        "b) idle watcher, 3 projects x 10 toy agents, check-ins every 1 h (nothing due), no FILE args:",
        f"  {'--interval':>10} {'measured s':>10} {'watcher %':>10} {'+children %':>11} {'tmux srv %':>10} "
        f"{'cpu s':>7} {'passes':>6}",
    ]
    for run in s["idle_cpu"]["runs"]:
        lines.append(f"  {run['interval_s']:>10g} {run['measured_s']:>10} {run['watcher_percent_of_one_core']:>10} "
                     f"{run['with_children_percent_of_one_core']:>11} {run['tmux_server_percent_of_one_core']:>10} "
                     f"{run['watcher_cpu_s']:>7} {run['passes_during_measurement']:>6}")
    lines += [
        f"  (% of one core = (utime+stime) delta / wall time; /proc resolution "
        f"{s['idle_cpu']['runs'][0]['clock_tick_s'] if s['idle_cpu']['runs'] else '?'} s)",
        "",
        f"c) due query, {due['schedules']} schedules in a real store, median of {due['runs']} runs:",
        f"  raw indexed SELECT ... WHERE next_due <= ? ({due['raw_rows_due']} rows due)  "
        f"{due['raw_indexed_select_due_ms']:>9} ms   plan: {due['raw_query_plan']}",
        f"  raw SELECT MIN(next_due)                                   {due['raw_select_min_next_due_ms']:>9} ms",
        f"  checkin_records.earliest_due, one project of 10,000                 "
        f"{due['ledger_earliest_due_one_project_of_10000_ms']:>9} ms",
        f"  checkin_records.schedules, one project of 10,000 (all rows)         "
        f"{due['ledger_schedules_one_project_of_10000_ms']:>9} ms",
        f"  checkin_records.earliest_due, 10 of 10,000 (1,000 projects)         "
        f"{due['ledger_earliest_due_10_of_10000_in_1000_projects_ms']:>9} ms",
        f"  checkin_records.schedules, 10 of 10,000 (1,000 projects)            "
        f"{due['ledger_schedules_10_of_10000_in_1000_projects_ms']:>9} ms",
        f"  checkin_records.earliest_due over all 1,000 projects                "
        f"{due['ledger_earliest_due_all_1000_projects_ms']:>9} ms",
        "",
        f"reference costs measured in this run (median of {ref['runs']}): type text + Enter, one chained tmux "
        f"process {ref['type_text_and_enter_one_tmux_process_ms']} ms (issue: ~2 ms); capture-pane "
        f"{ref['capture_pane_one_process_ms']} ms (issue: ~3 ms)",
        "",
        "ratios and targets                                   value      target     verdict",
        f"  lateness p50 / 100 ms aim                     {fmt(r['lateness_p50_over_100ms_aim']):>10}      < 1        "
        f"{verdict(t['p50_under_100ms_aim (agent log)'])}",
        f"  lateness max / 1 s (all within 1 s)           {fmt(r['lateness_max_over_1s_target']):>10}      <= 1       "
        f"{verdict(t['every_checkin_within_1s (agent log)'])}",
        f"  lateness p99 / 1 s                            {fmt(r['lateness_p99_over_1s_target']):>10}",
        f"  lateness p50 / (type + capture, measured)     {fmt(r['lateness_p50_over_type_plus_capture_measured']):>10}",
        f"  firings counted                               {lat['firings']:>10}      >= 200     "
        f"{verdict(t['at_least_200_firings'])}",
        f"  idle watcher % (interval 30) / 0.5 %          {fmt(r['idle_percent_over_0.5_target']):>10}      < 1        "
        f"{verdict(t['idle_under_0.5_percent (interval 30)'])}",
        f"  raw due query / 0.04 ms reference             {fmt(r['raw_due_query_over_0.04ms_reference']):>10}",
        f"  checkin_records.earliest_due (10k) / 0.04 ms reference {fmt(r['ledger_earliest_due_10k_over_0.04ms_reference']):>10}",
        f"  checkin_records.schedules (10k) / raw due query        {fmt(r['ledger_schedules_10k_over_raw_measured']):>10}",
        f"  measured typing / 2 ms reference              {fmt(r['type_measured_over_2ms_reference']):>10}",
        f"  measured capture-pane / 3 ms reference        {fmt(r['capture_measured_over_3ms_reference']):>10}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="200 firings, 20 s idle windows, fewer query runs (a few minutes less)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    parser.add_argument("--firings", type=int, help="firings to collect for (a) (default 400, --quick 200)")
    parser.add_argument("--idle-seconds", type=float, help="measured idle window (default 60, --quick 20)")
    parser.add_argument("--only", choices=["lateness", "idle", "due"], action="append",
                        help="run only these parts (repeatable); the others are reported as empty")
    args = parser.parse_args(argv)
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is not installed")
    firings = args.firings or (200 if args.quick else 400)
    idle_seconds = args.idle_seconds or (20.0 if args.quick else 60.0)
    warmup = 5.0 if args.quick else 10.0
    query_runs = 500 if args.quick else 3000
    parts = set(args.only or ["lateness", "idle", "due"])

    work = Path(tempfile.mkdtemp(prefix="orch-bench-checkins-"))
    isolate_environment(work)
    rigs: list[Rig] = []
    load_before = os.getloadavg()[0]

    def measure() -> dict[str, Any]:
        try:
            rig = Rig(work / "lateness")
            rigs.append(rig)
            log(f"benchmarking in {work} on tmux server {rig.socket}")
            empty_dist = distribution_ms([])
            lateness: dict[str, Any] = {
                "agents": 0, "every_s": [], "watcher_exit": None, "firings": 0, "firings_missing_from_agent_logs": 0,
                "firings_missed_at_start_excluded": 0, "states": {}, "agent_log_minus_due": empty_dist,
                "typed_at_minus_due": empty_dist, "paste_minus_due_from_event": empty_dist, "later_than_1s": 0}
            if "lateness" in parts:
                lateness = bench_lateness(rig, firings)
            reference = bench_reference(rig, 50 if args.quick else 200)
            rig.close()
            idle: dict[str, Any] = {"runs": []}
            if "idle" in parts:
                rig = Rig(work / "idle")
                rigs.append(rig)
                log(f"  idle: 3 projects x 10 agents on tmux server {rig.socket}")
                idle = bench_idle(rig, idle_seconds, warmup, [30, 5])
                rig.close()
            due = {k: None for k in ("raw_indexed_select_due_ms", "raw_select_min_next_due_ms",
                                     "ledger_schedules_one_project_of_10000_ms",
                                     "ledger_earliest_due_one_project_of_10000_ms",
                                     "ledger_schedules_10_of_10000_in_1000_projects_ms",
                                     "ledger_earliest_due_10_of_10000_in_1000_projects_ms",
                                     "ledger_earliest_due_all_1000_projects_ms")}
            due.update(schedules=10_000, runs=0, raw_rows_due=0, raw_query_plan="")
            if "due" in parts:
                log(f"  due query: {query_runs} runs")
                due = bench_due_query(work, query_runs)
            return summarize(lateness, idle, due, reference, args.quick, load_before)
        finally:
            for rig in rigs:
                rig.close()
            shutil.rmtree(work, ignore_errors=True)

    return run_and_print(measure, render_table, args.json)


if __name__ == "__main__":
    sys.exit(main())
