#!/usr/bin/env python3
"""How fast are `orch apply` and `orch plan`, against tmux itself and against tmuxp?

    .venv/bin/python benchmarks/bench_apply_plan.py [--runs N] [--json]

Everything runs on private tmux servers (`tmux -L orch-bench-<random>-<n>`, a fresh one per
timed run where the run creates a session; all of them killed at the end, also on Ctrl-C) and
in a temporary ORCH_HOME and HOME (so no user tmux config is read). Every agent command is
`sleep 600`, so agent start-up never counts. Each variant reports the median of N runs
(after one untimed warm-up run); variants are interleaved run by run so drift hits all alike.

  a) baseline     one chained `tmux new-session -d ... \\; new-window ... (x9)` process doing
                  what orch's creation batch does (same -x/-y, -c, -e and window options)
  b) tmuxp        `tmuxp load -d` of an equivalent 10-window workspace (whole process)
  c) orch apply   of a 10-agent manifest from nothing: fresh server and fresh ORCH_HOME
                  (whole process)
  d) tmux share   of orch apply: reconciler.project.converge called in-process, with
                  reconciler.runtime.tmux.Tmux.run wrapped by a timer; the sum of its tmux calls
  e) orch plan    converged, over 3 projects x 10 agents on one server (whole process), and
                  how many tmux processes one plan spawns (in-process count, and a whole-process
                  count through a logging `tmux` shim first on PATH)
  f) floor        `python -c pass` with the venv interpreter

Targets (from the issue) are reported as ratios against numbers measured in the same run;
nothing here asserts on time. Needs tmuxp for (b): `pip install -e '.[bench]'` (or
`pip install tmuxp`); without it (b) is reported as missing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # so `reconciler` imports even from a plain checkout
    sys.path.insert(0, str(REPO))

from benchmarks.rig import (  # noqa: E402  (the path above first)
    run_and_print,
    Servers, clean_env, environment, find_tool, isolate_environment, log, process_kind,
    ratio,
)

AGENTS = 10
PROJECTS = 3
COMMAND = "sleep 600"
WIDTH, HEIGHT = "220", "50"  # what reconciler/execute/tmux.py gives new sessions
SPEC_HASH = "0123456789abcdef"  # the baselines set a 16-hex @orch_spec like orch's
PLAN_TARGET_MS = 300.0


def windows_of(servers: Servers, server: str) -> list[list[str]]:
    out = subprocess.run(
        [servers.tmux, "-L", server, "list-panes", "-a", "-F",
         "#{session_name}\t#{window_name}\t#{pane_dead}\t#{@orch_agent}\t#{remain-on-exit}"],
        capture_output=True, text=True, env=clean_env()).stdout
    return [line.split("\t") for line in out.splitlines()]


def check_windows(servers: Servers, server: str, expected: int, what: str) -> None:
    """Not a timing check: make sure each variant really built what the others build."""
    rows = windows_of(servers, server)
    live = [r for r in rows if len(r) == 5 and r[2] == "0" and r[3] and r[4] == "on"]
    if len(live) != expected:
        raise SystemExit(f"{what}: expected {expected} live marked windows on {server}, found {rows}")


# -- what each variant creates -------------------------------------------------------------------


def agent_names(count: int = AGENTS) -> list[str]:
    return [f"a{i}" for i in range(count)]


def write_manifest(folder: Path, project: str, count: int = AGENTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = "".join(f"    - name: {a}\n      command: {COMMAND}\n" for a in agent_names(count))
    path = folder / "orch.yaml"
    path.write_text(f"apiVersion: orch/v1\nkind: Project\nmetadata:\n  name: {project}\n"
                    f"spec:\n  agents:\n{body}")
    return path


def launch_env(project: str, agent: str, home: Path, server: str) -> dict[str, str]:
    return {"ORCH_PROJECT": project, "ORCH_AGENT": agent, "ORCH_HOME": str(home), "ORCH_TMUX_SOCKET": server}


def baseline_argv(tmux: str, server: str, session: str, project: str, cwd: Path, home: Path) -> list[str]:
    """One tmux process: the session, ten windows and the marks orch sets, chained with ';'."""
    target = f"={session}:"
    commands: list[list[str]] = []
    for index, agent in enumerate(agent_names()):
        env_args = [arg for k, v in launch_env(project, agent, home, server).items() for arg in ("-e", f"{k}={v}")]
        if index == 0:
            commands.append(["new-session", "-d", "-s", session, "-x", WIDTH, "-y", HEIGHT, "-n", agent,
                             "-c", str(cwd), *env_args, COMMAND])
            commands.append(["set-option", "-t", target, "@orch_session_project", project])
        else:
            commands.append(["new-window", "-t", target, "-n", agent, "-c", str(cwd), *env_args, COMMAND])
        commands += [
            ["set-option", "-w", "-t", target, "remain-on-exit", "on"],
            ["set-option", "-w", "-t", target, "@orch_project", project],
            ["set-option", "-w", "-t", target, "@orch_agent", agent],
            ["set-option", "-w", "-t", target, "@orch_spec", SPEC_HASH],
        ]
    argv = [tmux, "-L", server]
    for index, command in enumerate(commands):
        if index:
            argv.append(";")
        argv += command
    return argv


def write_tmuxp_workspace(path: Path, session: str, project: str, cwd: Path, home: Path, server: str) -> Path:
    """The same ten windows as tmuxp YAML: the command as the window's shell, env, options."""
    lines = [f"session_name: {session}", f"start_directory: {json.dumps(str(cwd))}", "options:",
             f"  '@orch_session_project': {project}", "windows:"]
    for agent in agent_names():
        lines += [f"  - window_name: {agent}", f"    window_shell: {COMMAND}", "    environment:"]
        lines += [f"      {k}: {json.dumps(v)}" for k, v in launch_env(project, agent, home, server).items()]
        lines += ["    options:", "      remain-on-exit: 'on'", f"      '@orch_project': {project}",
                  f"      '@orch_agent': {agent}", f"      '@orch_spec': '{SPEC_HASH}'",
                  "    panes:", "      - shell_command: []"]
    path.write_text("\n".join(lines) + "\n")
    return path


# -- counting and timing tmux inside this process ------------------------------------------------


class TmuxMeter:
    """Wraps reconciler.runtime.tmux.Tmux.run (time and calls) and Popen (every tmux process spawned)."""

    def __init__(self) -> None:
        self.calls = 0
        self.seconds = 0.0
        self.spawns = 0
        self._undo: list[Callable[[], None]] = []

    def reset(self) -> None:
        self.calls, self.seconds, self.spawns = 0, 0.0, 0

    def __enter__(self) -> "TmuxMeter":
        from reconciler.runtime.tmux import Tmux

        meter, original_run = self, Tmux.run

        def timed_run(self_, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original_run(self_, *args, **kwargs)
            finally:
                meter.seconds += time.perf_counter() - start
                meter.calls += 1

        original_exec = subprocess.Popen._execute_child  # type: ignore[attr-defined]

        def counting_exec(self_: subprocess.Popen, args: Any, *rest: Any, **kwargs: Any) -> Any:
            if process_kind(args).split()[0] == "tmux":
                meter.spawns += 1
            return original_exec(self_, args, *rest, **kwargs)

        Tmux.run = timed_run  # type: ignore[method-assign]
        subprocess.Popen._execute_child = counting_exec  # type: ignore[attr-defined]
        self._undo = [lambda: setattr(Tmux, "run", original_run),
                      lambda: setattr(subprocess.Popen, "_execute_child", original_exec)]
        return self

    def __exit__(self, *exc: Any) -> None:
        for undo in self._undo:
            undo()


def make_tmux_shim(folder: Path, real_tmux: str) -> tuple[Path, Path]:
    """A `tmux` that logs one line per process and execs the real one (whole-process count)."""
    folder.mkdir(parents=True, exist_ok=True)
    count_file = folder / "tmux-processes.log"
    shim = folder / "tmux"
    shim.write_text(f"#!/bin/sh\necho \"$*\" >> '{count_file}'\nexec '{real_tmux}' \"$@\"\n")
    shim.chmod(0o755)
    return folder, count_file


# -- the benchmark -------------------------------------------------------------------------------


def timed(argv: list[str], env: dict[str, str], what: str, ok: Callable[[int], bool] = lambda rc: rc == 0) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if not ok(proc.returncode):
        raise SystemExit(f"{what} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return elapsed


class Bench:
    def __init__(self, runs: int, warmup: int, work: Path, servers: Servers) -> None:
        self.runs, self.warmup, self.work, self.servers = runs, warmup, work, servers
        self.orch = find_tool("orch")
        self.tmuxp = find_tool("tmuxp", required=False)
        self.samples: dict[str, list[float]] = {k: [] for k in "abcdef"}
        self.extra: dict[str, Any] = {"converge_total_s": [], "apply_tmux_calls": [], "apply_tmux_processes": []}
        self.cwd = work / "project"
        self.manifest = write_manifest(self.cwd, "bench")
        self._n = 0
        self.bytecode_cache = True

    def fresh(self, stem: str) -> Path:
        self._n += 1
        return self.work / f"{stem}-{self._n}"

    # a) one chained tmux process
    def run_baseline(self) -> float:
        server, home = self.servers.new(), self.fresh("home-a")
        argv = baseline_argv(self.servers.tmux, server, "bench", "bench", self.cwd, home)
        try:
            elapsed = timed(argv, clean_env(), "baseline tmux")
            check_windows(self.servers, server, AGENTS, "baseline")
        finally:
            self.servers.kill(server)
        return elapsed

    # b) tmuxp load -d
    def run_tmuxp(self) -> float:
        server, home = self.servers.new(), self.fresh("home-b")
        workspace = write_tmuxp_workspace(self.fresh("tmuxp").with_suffix(".yaml"), "bench", "bench",
                                          self.cwd, home, server)
        try:
            elapsed = timed([self.tmuxp, "load", "-L", server, "-d", "-y", str(workspace)],
                            clean_env(TMUXP_PROGRESS="0"), "tmuxp load -d")
            check_windows(self.servers, server, AGENTS, "tmuxp")
        finally:
            self.servers.kill(server)
        return elapsed

    # c) orch apply from nothing, whole process
    def run_apply(self) -> float:
        server, home = self.servers.new(), self.fresh("home-c")
        try:
            elapsed = timed([self.orch, "apply", str(self.manifest)],
                            clean_env(ORCH_HOME=str(home), ORCH_TMUX_SOCKET=server), "orch apply")
            check_windows(self.servers, server, AGENTS, "orch apply")
        finally:
            self.servers.kill(server)
        return elapsed

    # d) orch apply in-process: the tmux share
    def run_apply_inprocess(self) -> float:
        from reconciler.context import Context
        from reconciler.project import converge
        from reconciler.manifest.loader import load_manifest

        server, home = self.servers.new(), self.fresh("home-d")
        ctx = Context(home=home, socket=server)
        try:
            with TmuxMeter() as meter:
                start = time.perf_counter()
                outcomes = converge(ctx, load_manifest(str(self.manifest)))
                total = time.perf_counter() - start
            if not all(o.ok for o in outcomes):
                raise SystemExit(f"in-process converge failed: {outcomes}")
            check_windows(self.servers, server, AGENTS, "in-process converge")
        finally:
            store = getattr(ctx, "_store", None)
            if store is not None and hasattr(store, "close"):
                store.close()
            self.servers.kill(server)
        self.extra["converge_total_s"].append(total)
        self.extra["apply_tmux_calls"].append(meter.calls)
        self.extra["apply_tmux_processes"].append(meter.spawns)
        return meter.seconds

    # f) the interpreter floor
    def run_floor(self) -> float:
        return timed([sys.executable, "-c", "pass"], clean_env(), "python -c pass")

    def interleaved(self) -> None:
        variants: list[tuple[str, Callable[[], float]]] = [
            ("f", self.run_floor), ("a", self.run_baseline), ("c", self.run_apply), ("d", self.run_apply_inprocess),
        ]
        if self.tmuxp:
            variants.insert(2, ("b", self.run_tmuxp))
        else:
            log("tmuxp not found: (b) skipped (pip install -e '.[bench]')")
        for round_ in range(self.warmup + self.runs):
            label = "warm-up" if round_ < self.warmup else f"run {round_ - self.warmup + 1}/{self.runs}"
            log(f"  {label}: " + " ".join(key for key, _ in variants))
            for key, run in variants:
                elapsed = run()
                if round_ >= self.warmup:
                    self.samples[key].append(elapsed)
        # the in-process extras include the warm-up round: drop it
        for key in self.extra:
            self.extra[key] = self.extra[key][self.warmup:]

    # e) converged plan over 3 x 10
    def plan_phase(self) -> dict[str, Any]:
        server, home = self.servers.new(), self.fresh("home-e")
        env = clean_env(ORCH_HOME=str(home), ORCH_TMUX_SOCKET=server)
        manifests = [write_manifest(self.work / f"plan-p{i}", f"bench-p{i}") for i in range(PROJECTS)]
        for manifest in manifests:
            timed([self.orch, "apply", str(manifest)], env, "orch apply (plan setup)")
        check_windows(self.servers, server, PROJECTS * AGENTS, "plan setup")
        target = str(manifests[0])
        argv = [self.orch, "plan", target, "--detailed-exitcode"]
        log(f"  plan: {self.warmup} warm-up + {self.runs} runs over {PROJECTS} x {AGENTS} agents")
        for round_ in range(self.warmup + self.runs):
            elapsed = timed(argv, env, "orch plan (converged)", ok=lambda rc: rc == 0)  # 0: nothing to do
            if round_ >= self.warmup:
                self.samples["e"].append(elapsed)

        # tmux processes spawned by one converged plan: in-process ...
        from reconciler.context import Context
        from reconciler.project import plan_for
        from reconciler.manifest.loader import load_manifest

        ctx = Context(home=home, socket=server)
        with TmuxMeter() as meter:
            _, plan = plan_for(ctx, load_manifest(target))
        store = getattr(ctx, "_store", None)
        if store is not None and hasattr(store, "close"):
            store.close()
        # ... and as a whole process, through a logging tmux shim first on PATH
        shim_dir, count_file = make_tmux_shim(self.work / "shim", self.servers.tmux)
        timed(argv, clean_env(ORCH_HOME=str(home), ORCH_TMUX_SOCKET=server,
                              PATH=f"{shim_dir}{os.pathsep}{os.environ.get('PATH', '')}"),
              "orch plan through the tmux shim", ok=lambda rc: rc == 0)
        shim_lines = count_file.read_text().splitlines() if count_file.exists() else []
        self.servers.kill(server)
        return {
            "plan_actions": len(plan.actions),
            "tmux_run_calls": meter.calls,
            "tmux_processes_in_process": meter.spawns,
            "tmux_processes_whole_process": len(shim_lines),
            "tmux_commands_whole_process": [line.split(" ")[:4] for line in shim_lines],
        }


def summarize(bench: Bench, plan_counts: dict[str, Any], load_before: float) -> dict[str, Any]:
    def ms(values: list[float]) -> dict[str, Any] | None:
        if not values:
            return None
        return {"median_ms": round(statistics.median(values) * 1000, 2),
                "min_ms": round(min(values) * 1000, 2), "max_ms": round(max(values) * 1000, 2),
                "runs_ms": [round(v * 1000, 2) for v in values]}

    results = {
        "a_baseline_chained_tmux": ms(bench.samples["a"]),
        "b_tmuxp_load_d": ms(bench.samples["b"]),
        "c_orch_apply_whole_process": ms(bench.samples["c"]),
        "d_orch_apply_tmux_share": ms(bench.samples["d"]),
        "d_orch_apply_converge_in_process_total": ms(bench.extra["converge_total_s"]),
        "e_orch_plan_converged_3x10": ms(bench.samples["e"]),
        "f_python_floor": ms(bench.samples["f"]),
    }
    med = {k: (v["median_ms"] if v else None) for k, v in results.items()}

    c_over_b = ratio(med["c_orch_apply_whole_process"], med["b_tmuxp_load_d"])
    d_over_a = ratio(med["d_orch_apply_tmux_share"], med["a_baseline_chained_tmux"])
    e_over_target = ratio(med["e_orch_plan_converged_3x10"], PLAN_TARGET_MS)
    calls = bench.extra["apply_tmux_calls"]
    spawns = bench.extra["apply_tmux_processes"]
    return {
        "runs": bench.runs,
        "warmup": bench.warmup,
        "agents": AGENTS,
        "projects_for_plan": PROJECTS,
        "command": COMMAND,
        "bytecode_cache": bench.bytecode_cache,
        "environment": environment(load_before, tmux=[bench.servers.tmux, "-V"],
                                   tmuxp=[bench.tmuxp or "tmuxp", "--version"]),  # "missing" without it
        "results": results,
        "ratios": {
            "c_over_b": c_over_b,
            "d_over_a": d_over_a,
            "e_over_300ms": e_over_target,
            "c_over_a": ratio(med["c_orch_apply_whole_process"], med["a_baseline_chained_tmux"]),
            "c_minus_f_ms": round(med["c_orch_apply_whole_process"] - med["f_python_floor"], 2)
            if med["c_orch_apply_whole_process"] is not None and med["f_python_floor"] is not None else None,
        },
        "targets": {
            "apply_faster_than_tmuxp (c/b < 1)": None if c_over_b is None else c_over_b < 1.0,
            "apply_half_of_tmuxp (c/b <= 0.5, aim)": None if c_over_b is None else c_over_b <= 0.5,
            "apply_tmux_within_2x_of_chained (d/a <= 2)": None if d_over_a is None else d_over_a <= 2.0,
            "plan_under_300ms (e < 300 ms)": None if e_over_target is None else e_over_target < 1.0,
            "plan_tmux_processes_whole_process": plan_counts.get("tmux_processes_whole_process"),
        },
        "apply_tmux": {
            "tmux_run_calls_median": statistics.median(calls) if calls else None,
            "tmux_processes_median": statistics.median(spawns) if spawns else None,
        },
        "plan_tmux": plan_counts,
    }


def render_table(summary: dict[str, Any]) -> str:
    r, ratios, env = summary["results"], summary["ratios"], summary["environment"]

    def cell(key: str) -> str:
        v = r.get(key)
        return f"{v['median_ms']:9.1f} {v['min_ms']:9.1f} {v['max_ms']:9.1f}" if v else f"{'n/a':>9} {'':9} {'':9}"

    def fmt(x: Any, suffix: str = "x") -> str:
        return "n/a" if x is None else f"{x:.2f}{suffix}"

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("meets" if ok else "MISSES")

    t = summary["targets"]
    apply_tmux, plan = summary["apply_tmux"], summary["plan_tmux"]
    lines = [
        f"orch apply/plan benchmark: {summary['runs']} runs (+{summary['warmup']} warm-up), "
        f"{summary['agents']} agents running `{summary['command']}`, bytecode "
        f"{'cached' if summary['bytecode_cache'] else 'not cached (--no-bytecode-cache)'}",
        f"python {env['python']}, {env['tmux']}, tmuxp: {env['tmuxp']}, {env['cpus']} cpus, "
        f"load average (1 min) before/after: {env['loadavg_1m_before_after'][0]}/{env['loadavg_1m_before_after'][1]}",
        "",
        f"{'variant':58} {'median ms':>9} {'min':>9} {'max':>9}",
        f"{'a) one chained tmux invocation (session + 10 windows)':58} {cell('a_baseline_chained_tmux')}",
        f"{'b) tmuxp load -d, 10 windows (whole process)':58} {cell('b_tmuxp_load_d')}",
        f"{'c) orch apply, 10 agents from nothing (whole process)':58} {cell('c_orch_apply_whole_process')}",
        f"{'d) tmux share of orch apply (sum of Tmux.run, in-process)':58} {cell('d_orch_apply_tmux_share')}",
        f"{'   converge() total, in-process (for reference)':58} {cell('d_orch_apply_converge_in_process_total')}",
        f"{'e) orch plan, converged, 3 projects x 10 agents':58} {cell('e_orch_plan_converged_3x10')}",
        f"{'f) python -c pass (venv interpreter, floor)':58} {cell('f_python_floor')}",
        "",
        "ratios (same run)                         value    target       verdict",
        f"  c/b  orch apply vs tmuxp load -d       {fmt(ratios['c_over_b']):>8}    < 1 (aim 0.5) "
        f"{verdict(t['apply_faster_than_tmuxp (c/b < 1)'])}"
        f"{'' if t['apply_half_of_tmuxp (c/b <= 0.5, aim)'] in (None, True) else ' (aim of 0.5 missed)'}",
        f"  d/a  apply's tmux vs one chained call  {fmt(ratios['d_over_a']):>8}    <= 2          "
        f"{verdict(t['apply_tmux_within_2x_of_chained (d/a <= 2)'])}",
        f"  e/300ms  converged plan                {fmt(ratios['e_over_300ms']):>8}    < 1           "
        f"{verdict(t['plan_under_300ms (e < 300 ms)'])}",
        f"  c/a  orch apply vs one chained call    {fmt(ratios['c_over_a']):>8}",
        f"  c-f  orch apply above the interpreter  {fmt(ratios['c_minus_f_ms'], ' ms'):>11}",
        "",
        f"tmux processes: orch apply (10 agents, from nothing): {apply_tmux['tmux_processes_median']} "
        f"({apply_tmux['tmux_run_calls_median']} Tmux.run calls)",
        f"tmux processes: one converged orch plan over {summary['projects_for_plan']} x {summary['agents']}: "
        f"{plan['tmux_processes_whole_process']} whole-process (tmux shim on PATH), "
        f"{plan['tmux_processes_in_process']} in-process ({plan['tmux_run_calls']} Tmux.run calls); "
        f"planned actions: {plan['plan_actions']}",
    ]
    for command in plan["tmux_commands_whole_process"]:
        lines.append(f"    tmux {' '.join(command)} ...")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="timed runs per variant (median reported; default 7)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed warm-up runs per variant (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="keep the caller's PYTHONDONTWRITEBYTECODE (then every run recompiles orch's "
                             "modules); by default bytecode is cached in the temporary folder, as on a "
                             "user's machine, and the warm-up run fills that cache")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is not installed")

    work = Path(tempfile.mkdtemp(prefix="orch-bench-"))
    # One environment for every variant, in-process ones included: no user tmux config, a
    # plain /bin/sh as tmux's default shell, no ORCH_* leaking in from the caller.
    isolate_environment(work)
    warmup = args.warmup
    if not args.no_bytecode_cache:
        # A user's orch runs from cached bytecode; a checkout with PYTHONDONTWRITEBYTECODE=1 and
        # no __pycache__ recompiles every reconciler module on every command (~15-30 ms).
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        warmup = max(warmup, 1)

    servers = Servers()

    def measure() -> dict[str, Any]:
        try:
            bench = Bench(args.runs, warmup, work, servers)
            bench.bytecode_cache = not args.no_bytecode_cache
            log(f"benchmarking in {work} on tmux servers {servers.prefix}-*")
            load_before = os.getloadavg()[0]
            bench.interleaved()
            plan_counts = bench.plan_phase()
            return summarize(bench, plan_counts, load_before)
        finally:
            servers.kill_all()
            shutil.rmtree(work, ignore_errors=True)

    return run_and_print(measure, render_table, args.json)


if __name__ == "__main__":
    sys.exit(main())
