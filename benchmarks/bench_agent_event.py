#!/usr/bin/env python3
"""How soon does a running watcher act on an event an agent's hook reports?

    .venv/bin/python benchmarks/bench_agent_event.py [--runs N] [--json]

A project with one agent of kind claude, whose program is a stand-in (`claude`, a script that
ignores orch's `--settings` and runs the toy agent), on a private tmux server with a watcher
(`orch reconcile --watch`). Each run is the hook command orch wrote into the agent's settings
for StopFailure, fed a usage-limit report with a reset a minute later than the last, as Claude
Code would run it (the hold before it cleared with `orch credit clear`, outside the timing);
timed from starting the hook to the watcher having recorded the new credit hold (the store's
`credit.exhausted` event, polled every 2 ms). Nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.002)
    raise SystemExit(f"timed out waiting for {what}")


def holds(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM events WHERE kind = 'credit.exhausted'").fetchone()[0]
    except sqlite3.Error:
        return -1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="orch-bench-event-"))
    socket = f"orch-bench-{os.getpid()}"
    env = {**os.environ, "ORCH_HOME": str(folder / "home"), "ORCH_TMUX_SOCKET": socket, "TZ": "UTC"}
    watcher = None
    try:
        fake = folder / "bin" / "claude"
        fake.parent.mkdir()
        fake.write_text(f"#!/bin/sh\nexec {shlex.quote(str(BIN / 'orch-toyagent'))}\n")
        fake.chmod(0o755)
        manifest = folder / "orch.yaml"
        manifest.write_text("apiVersion: orch/v1\nkind: Project\nmetadata:\n  name: bench\nspec:\n  agents:\n"
                            f"    - name: dev\n      command: {json.dumps(str(fake))}\n")
        subprocess.run([str(BIN / "orch"), "apply", str(manifest)], env=env, check=True, capture_output=True)
        settings = json.loads(next((folder / "home").glob("projects/bench-*/agents/dev/claude-settings.json"))
                              .read_text())
        hook = settings["hooks"]["StopFailure"][0]["hooks"][0]["command"]
        watcher = subprocess.Popen([str(BIN / "orch"), "reconcile", "--watch", str(manifest)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        db = folder / "home" / "state.db"
        wait(lambda: list((folder / "home" / "run").glob("wake-*.fifo")), 30, "the watcher's FIFO")
        time.sleep(1.0)  # its first passes done
        base = (int(time.time()) // 60 + 120) * 60
        latencies = []
        for run in range(args.runs):
            reset = time.strftime("%-I:%M%p", time.gmtime(base + 60 * run)).lower()
            payload = json.dumps({"hook_event_name": "StopFailure", "error": "rate_limit",
                                  "last_assistant_message": f"You've hit your 5-hour limit · resets {reset} (UTC)"})
            if run:
                subprocess.run([str(BIN / "orch"), "credit", "clear", "bench/dev"], env=env, check=True,
                               capture_output=True)
                time.sleep(0.2)
            before = holds(db)
            start = time.perf_counter()
            subprocess.run(["sh", "-c", hook], input=payload.encode(), check=True)
            wait(lambda: holds(db) > before, 10, "the watcher's hold")
            latencies.append((time.perf_counter() - start) * 1000)
            time.sleep(0.2)
        ordered = sorted(latencies)
        report = {"runs": args.runs, "median_ms": round(statistics.median(latencies), 1),
                  "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 1), "max_ms": round(max(latencies), 1)}
        print(json.dumps(report) if args.json else
              f"hook start -> hold recorded by the watcher: median {report['median_ms']} ms, "
              f"p90 {report['p90_ms']} ms, max {report['max_ms']} ms ({args.runs} runs)")
        return 0
    finally:
        if watcher is not None:
            watcher.terminate()
            watcher.wait(timeout=30)
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
