#!/usr/bin/env python3
"""What does reading every agent's screen for credit cost a reconcile pass?

    .venv/bin/python benchmarks/bench_credit_observation.py [--agents 30] [--runs 50] [--json]

Three projects of N/3 toy agents each (default 30 in all) on a private tmux server (the
benchmarks/rig.py rig: temporary ORCH_HOME and HOME, server killed at the end). One round calls
`reconciler.execute.checkins.observe_credit` once per project, as the passes of `orch
reconcile` and of the watcher do: per project one tmux process captures every live agent's
screen, and only screens whose text changed since the last look are judged (new-output
region, notice patterns, store reads). Reported for a round over all agents, as p50/p95 ms of
wall time and of this process's CPU:

  cold       nothing seen yet: every screen judged (the first pass of a process)
  unchanged  every screen as at the last look: captured, hashed, nothing judged
  one-moved  one agent's screen changed (a key typed into it): that one judged
  list-panes one `observe` (one `list-panes -a`), what every pass already pays, for scale

Nothing asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # so `reconciler` imports even from a plain checkout
    sys.path.insert(0, str(REPO))

from benchmarks.rig import Rig, log, percentile  # noqa: E402  (the path above first)


def measure(runs: int, step) -> dict[str, float]:
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return {"wall_p50_ms": round(percentile(walls, 50), 2), "wall_p95_ms": round(percentile(walls, 95), 2),
            "cpu_p50_ms": round(percentile(cpus, 50), 2), "cpu_p95_ms": round(percentile(cpus, 95), 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=30)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="orch-bench-credit-") as work:
        rig = Rig(Path(work))
        try:
            manifests = []
            for index in range(3):
                manifests.append(rig.write_project(f"credit{index}", {f"a{i:02d}": 3600 for i in range(args.agents // 3)},
                                                   lambda project, agent, every: "status?"))
                rig.apply(manifests[-1])
            os.environ.update(ORCH_HOME=str(rig.home), ORCH_TMUX_SOCKET=rig.socket)
            from reconciler.execute.checkins import observe_credit
            from reconciler.context import Context
            from reconciler.project import plan_for
            from reconciler.manifest.loader import load_manifest
            from reconciler.runtime.observe import observe

            ctx = Context(rig.home, rig.socket)
            store = ctx.store()
            observed = observe(ctx.tmux)
            projects = []
            for manifest in manifests:
                desired, _ = plan_for(ctx, load_manifest(manifest))
                projects.append((desired, {p.agent: p for p in observed.agent_panes(desired.name)}))
            agents = sum(len(panes) for _, panes in projects)
            log(f"{agents} agents up; {args.runs} runs each")
            results: dict = {"agents": agents}

            def round_over(seen: dict[str, str]) -> None:
                for desired, panes in projects:
                    observe_credit(ctx.tmux, store, ctx.home, desired, panes, seen)

            results["cold"] = measure(args.runs, lambda: round_over({}))
            seen: dict[str, str] = {}
            round_over(seen)
            results["unchanged"] = measure(args.runs, lambda: round_over(seen))
            moved = next(iter(projects[0][1].values())).pane_id
            keys = iter(["x", "BSpace"] * args.runs)

            def one_moved() -> None:
                rig.tmux("send-keys", "-t", moved, next(keys))
                round_over(seen)

            results["one_moved_incl_send_keys"] = measure(args.runs, one_moved)
            results["list_panes"] = measure(args.runs, lambda: observe(ctx.tmux))
        finally:
            rig.close()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for name, row in results.items():
            print(f"{name:26} {row}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
