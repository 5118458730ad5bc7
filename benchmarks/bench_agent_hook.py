#!/usr/bin/env python3
"""What does `orch hook` cost a Claude Code turn, and how soon does it wake a watcher?

    .venv/bin/python benchmarks/bench_agent_hook.py [--runs N] [--json]

Each run is the exact command line orch writes into the agent's `--settings` for
UserPromptSubmit, run as Claude Code runs a hook command (through `sh -c`, a ~1 KB JSON object
on stdin), interleaved variant by variant so drift hits all alike:

  sh-true      `sh -c true` with the same stdin: what any hook costs at least
  python-bare  `python -I -S -c pass`: the interpreter's own start-up
  hook         orch's hook, one watcher listening on its FIFO
  hook-idle    orch's hook, no watcher (no run folder): "costs nothing when no watcher runs"
  orch-cli     `orch hook UserPromptSubmit` (the console script: imports the CLI first)

The cost to the agent is the hook's time less sh-true's (medians and p99s), against the 20 ms
target. Wake latency: from starting the hook to the byte being readable on the watcher's FIFO
(opened as the watcher does, O_RDWR|O_NONBLOCK, waited on with select). Nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from reconciler.drivers import claude  # noqa: E402
from reconciler.execute.agent_hooks import HOOK_SCRIPT  # noqa: E402

TARGET_MS = 20.0
WARMUP = 5
PAYLOAD = json.dumps({"session_id": "9d3c0a4e-0000-4000-8000-000000000000", "transcript_path": "/tmp/x.jsonl",
                      "cwd": "/work/project", "hook_event_name": "UserPromptSubmit", "permission_mode": "default",
                      "prompt_id": "p-1", "prompt": "Status check: commit your work and report to pm " * 18
                      + "[orch:1a2b3c]"}).encode()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(values: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(values), 2), "p99_ms": round(pct(values, 99), 2),
            "min_ms": round(min(values), 2), "n": len(values)}


def timed(command: str, fifo_fd: int | None) -> tuple[float, float | None]:
    start = time.perf_counter()
    proc = subprocess.Popen(["sh", "-c", command], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    proc.communicate(PAYLOAD)
    elapsed = (time.perf_counter() - start) * 1000
    woke = None
    if fifo_fd is not None:
        ready, _, _ = select.select([fifo_fd], [], [], 2.0)
        if ready:
            woke = (time.perf_counter() - start) * 1000  # an upper bound: read after the hook exited
            os.read(fifo_fd, 4096)
    return elapsed, woke


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="orch-bench-hook-"))
    try:
        home, idle_home = folder / "home", folder / "idle"
        for h in (home, idle_home):
            (h / "agent").mkdir(parents=True, mode=0o700)
        (home / "run").mkdir(mode=0o700)
        fifo = home / "run" / f"wake-{os.getpid()}.fifo"
        os.mkfifo(fifo, 0o600)
        fifo_fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        orch = shutil.which("orch", path=str(Path(sys.executable).parent)) or "orch"
        variants = {
            "sh-true": ("true", None),
            "python-bare": (f"{sys.executable} -I -S -c pass", None),
            "hook": (claude.hook_command(sys.executable, HOOK_SCRIPT, "UserPromptSubmit",
                                         str(home / "agent" / "events.jsonl"), str(home / "run")), fifo_fd),
            "hook-idle": (claude.hook_command(sys.executable, HOOK_SCRIPT, "UserPromptSubmit",
                                              str(idle_home / "agent" / "events.jsonl"), str(idle_home / "run")),
                          None),
            "orch-cli": (f"ORCH_HOME={idle_home} ORCH_PROJECT=p ORCH_AGENT=a {orch} hook UserPromptSubmit", None),
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        wakes: list[float] = []
        for run in range(WARMUP + args.runs):
            names = list(variants)
            names = names[run % len(names):] + names[:run % len(names)]
            for name in names:
                command, fd = variants[name]
                elapsed, woke = timed(command, fd)
                if run >= WARMUP:
                    times[name].append(elapsed)
                    if woke is not None:
                        wakes.append(woke)
        lines = (home / "agent" / "events.jsonl").read_text().splitlines()
        assert len(lines) == WARMUP + args.runs and json.loads(lines[-1])["data"]["prompt_id"] == "p-1"
        result = {name: summary(values) for name, values in times.items()}
        base = result["sh-true"]
        cost = {name: {"median_ms": round(result[name]["median_ms"] - base["median_ms"], 2),
                       "p99_ms": round(result[name]["p99_ms"] - base["p99_ms"], 2)}
                for name in ("hook", "hook-idle", "orch-cli")}
        report = {"runs": args.runs, "target_ms": TARGET_MS, "variants": result, "cost_over_sh_true": cost,
                  "wake_ms": summary(wakes) if wakes else None, "python": sys.version.split()[0],
                  "cpus": os.cpu_count()}
        if args.json:
            print(json.dumps(report, indent=1))
        else:
            for name, values in result.items():
                print(f"{name:12} median {values['median_ms']:7.2f} ms  p99 {values['p99_ms']:7.2f} ms")
            for name, values in cost.items():
                verdict = "under" if values["median_ms"] < TARGET_MS else "OVER"
                print(f"cost {name:9} median {values['median_ms']:7.2f} ms  p99 {values['p99_ms']:7.2f} ms "
                      f"({verdict} the {TARGET_MS:.0f} ms target)")
            if wakes:
                print(f"wake (hook start -> FIFO readable) median {statistics.median(wakes):.2f} ms")
        return 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
