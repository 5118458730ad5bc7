#!/usr/bin/env python3
"""How soon does a commit on upstream reach every agent's worktree, and does git ever delay a check-in?

    .venv/bin/python benchmarks/bench_sync.py [--commits N] [--agents N] [--json]
                                              [--agent-commits K] [--gap S]
                                              [--checkin-seconds S] [--no-checkins]

Everything runs on private tmux servers (`tmux -L orch-bench-<random>`, killed and their
sockets removed at the end, also on Ctrl-C) with a temporary ORCH_HOME and HOME (no user
tmux or git config is read; GIT_CONFIG_NOSYSTEM=1), in a real repository with `main`
checked out in its primary checkout. The project is N toy agents (default 10), each with
the worktree orch gives it (`orch/<agent>`, `upstream: main`), and each with one commit of
its own on its branch (--agent-commits), so every sync is a real rebase of one commit onto
an upstream one commit ahead, the issue's reference case.

  a) sync latency   `orch apply`, then `orch reconcile --watch --interval 600 FILE` (so only
                    the git hooks' wake-ups can trigger a sync); then N times (default 50):
                    commit on main in the primary checkout, the clock read just before
                    `git commit` starts, and poll every 5 ms until every agent worktree's
                    HEAD is attached to its branch and that branch contains the commit.
                    The poll starts no process: HEAD and the branch refs are read from the
                    worktrees' git folders (packed-refs as fallback), and containment is
                    decided by walking parents through the loose commit objects, stopping at
                    commits that existed before the upstream commit was made (so they cannot
                    contain it); anything not provable that way (a packed object, a huge walk)
                    falls back to one `git merge-base --is-ancestor`, cached and counted.
                    Reported: p50/p95/p99/max of (all rebased - commit start), also of the
                    first worktree rebased and of the watcher's own last `sync.rebased`
                    event, against the 1 s target and the 2 s contract. Between commits the
                    benchmark waits --gap seconds (default 0.5) so each commit meets an idle
                    watcher.
  b) in-process     with the watcher stopped, on the same project:
                    - one git observation of the worktrees (reconciler.sync.observe_worktrees
                      over reconciler.git.observe.observe_repo): median of 20, and the git
                      processes it starts (subprocess.run wrapped in-process), against the
                      issue's ~33 ms for `git status --porcelain` in 10 worktrees, which is
                      measured again in this run, as is one `for-each-ref` of every branch
                      (with %(ahead-behind:main) where git has it, 2.41+), 10 `rev-list
                      --left-right --count`, and one rebase of one commit onto an upstream one
                      ahead in a linked worktree, without and with orch's hooks installed;
                    - one sync pass (reconciler.sync.sync_project) after a commit on main,
                      broken down by the processes it starts (tmux, each git subcommand) and
                      the rest (Python, SQLite): median of 5;
                    - one check-in pass (reconciler.project.reconcile_project with
                      fire_checkins=True, as the watcher's main loop runs it): its time and
                      how many of its processes are git, i.e. what git costs the check-in path.
  c) check-ins      a second project like (a), with a check-in every 2 s on every agent, and
     under git load a user `post-rewrite` hook (chained by orch's) that sleeps 0.5 s while a
                    flag file exists: the "slow repository". One watcher; --checkin-seconds
                    (default 40) without git load, then as long with it: a commit on main
                    every 2 s, so the watcher's gate-less git sync lane is busy rebasing
                    (each worktree's rebase takes 0.5 s more) the whole time. Check-in
                    lateness by phase (a firing counts in the phase its due time falls in):
                    `firings.typed_at - firings.due` from the store (the ledger row, written
                    when the watcher takes the firing up, up to 50 ms before due), and the
                    agent's own log time of the submission - due (joined on the marker);
                    plus check-in slots the schedule dropped because a delivery came more
                    than one interval late (the next due is re-anchored after it).
                    For reference, the same agents and check-ins in a project without `repo:`
                    (no git anywhere on the watcher's path), as long, on the same tmux server.

Nothing here asserts on time.
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
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # so `reconciler` and `benchmarks` import even from a plain checkout
    sys.path.insert(0, str(REPO))

from benchmarks.rig import (  # noqa: E402  (the path above first)
    run_and_print,
    GIT_IDENTITY, Rig, distribution_ms, environment, isolate_environment, log, median_ms,
    process_kind, ratio,
)

TARGET_S = 1.0
CONTRACT_S = 2.0
STATUS_REFERENCE_MS = 33.0  # `git status --porcelain` in 10 worktrees, 10 processes
FOR_EACH_REF_REFERENCE_MS = 4.0  # ahead/behind of every branch in one for-each-ref
REBASE_REFERENCE_MS = 16.0  # one commit onto an upstream one commit ahead
POLL_S = 0.005
COMMIT_TIMEOUT_S = 60.0
SLOW_HOOK_S = 0.5
LOAD_COMMIT_EVERY_S = 2.0
CHECKIN_EVERY_S = 2


# -- git helpers -----------------------------------------------------------------------------------


def git(cwd: Path, *args: str, check: bool = True) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {result.stderr.strip()}")
    return result.stdout.strip()


def make_repo(path: Path, files: int = 50) -> None:
    """A small real repository: `main` checked out, a README and `files` source files."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("bench\n")
    (path / "src").mkdir()
    for i in range(files):
        (path / "src" / f"module{i:03d}.py").write_text("".join(f"value_{j} = {i * j}\n" for j in range(40)))
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")


class Heads:
    """Branch heads of the agents' worktrees, read from git's files (no process started).

    A worktree's HEAD is `<gitdir>/HEAD`: `ref: refs/heads/orch/<agent>` when attached (as
    after a finished rebase), a bare commit id while detached (as in the middle of one).
    Branch refs live in the common dir, loose (written whole by rename) or in packed-refs.
    """

    def __init__(self, repo: Path, worktrees: dict[str, Path]):
        from reconciler.git.observe import worktree_git_dir

        self.common = Path(git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir"))
        self.gitdirs = {}
        for agent, path in worktrees.items():
            gitdir = worktree_git_dir(path)
            if gitdir is None:
                raise RuntimeError(f"{path} is not a git worktree")
            self.gitdirs[agent] = gitdir

    def ref(self, name: str, depth: int = 0) -> str | None:
        try:
            text = (self.common / name).read_text().strip()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return self._packed().get(name)
        if text.startswith("ref: ") and depth < 5:
            return self.ref(text[5:], depth + 1)
        return text or None

    def _packed(self) -> dict[str, str]:
        refs = {}
        try:
            lines = (self.common / "packed-refs").read_text().splitlines()
        except FileNotFoundError:
            return refs
        for line in lines:
            if line and line[0] not in "#^" and " " in line:
                sha, name = line.split(" ", 1)
                refs[name] = sha
        return refs

    def head(self, agent: str) -> str | None:
        """The commit the worktree's branch points at, or None while HEAD is detached (mid-rebase)."""
        try:
            text = (self.gitdirs[agent] / "HEAD").read_text().strip()
        except FileNotFoundError:
            return None
        return self.ref(text[5:]) if text.startswith("ref: ") else None

    def branch_heads(self) -> set[str]:
        """Every refs/heads/* value now: commits that exist (used as 'older than the next commit')."""
        found = set(self._packed().values())
        heads = self.common / "refs" / "heads"
        for path in heads.rglob("*"):
            if path.is_file():
                try:
                    text = path.read_text().strip()
                except OSError:
                    continue
                if len(text) >= 40 and not text.startswith("ref:"):
                    found.add(text)
        return found


class Ancestry:
    """Does commit `head` contain commit `target`? From loose objects, falling back to git once."""

    def __init__(self, common: Path, repo: Path):
        self.objects = common / "objects"
        self.repo = repo
        self.cache: dict[tuple[str, str], bool] = {}
        self.fallbacks = 0
        self.walked = 0

    def parents(self, sha: str) -> list[str] | None:
        try:
            raw = zlib.decompress((self.objects / sha[:2] / sha[2:]).read_bytes())
        except (FileNotFoundError, zlib.error):
            return None  # packed (or not written yet): not provable from loose objects
        header, _, body = raw.partition(b"\0")
        if not header.startswith(b"commit "):
            return None
        parents = []
        for line in body.split(b"\n"):
            if not line:
                break
            if line.startswith(b"parent "):
                parents.append(line[7:].decode())
        return parents

    def contains(self, head: str, target: str, older: frozenset[str]) -> bool:
        """`older`: commits that existed before `target` was made; none of them can contain it."""
        key = (head, target)
        if key in self.cache:
            return self.cache[key]
        result, provable = False, True
        seen: set[str] = set()
        stack = [head]
        while stack:
            sha = stack.pop()
            if sha == target:
                result = True
                break
            if sha in seen or sha in older:
                continue
            seen.add(sha)
            parents = self.parents(sha) if len(seen) <= 20_000 else None
            if parents is None:
                provable = False
                break
            stack.extend(parents)
        self.walked += len(seen)
        if not result and not provable:
            self.fallbacks += 1
            done = subprocess.run(["git", "merge-base", "--is-ancestor", target, head], cwd=self.repo,
                                  capture_output=True)
            result = done.returncode == 0
        self.cache[key] = result
        return result


def wait_all_contain(heads: Heads, ancestry: Ancestry, target: str, older: frozenset[str],
                     timeout: float) -> tuple[float | None, dict[str, float]]:
    """Poll every POLL_S until every worktree's branch contains `target`: (moment, first moment per agent)."""
    first: dict[str, float] = {}
    deadline = time.time() + timeout
    while True:
        for agent in heads.gitdirs:
            if agent in first:
                continue  # a branch only moves forward here (nobody else rewrites it)
            head = heads.head(agent)
            if head is not None and ancestry.contains(head, target, older):
                first[agent] = time.time()
        now = time.time()
        if len(first) == len(heads.gitdirs):
            return now, first
        if now >= deadline:
            return None, first
        time.sleep(POLL_S)


# -- a project of toy agents with worktrees ------------------------------------------------------------


class GitProject:
    """A repository, a manifest of toy agents with a worktree each, applied on `rig`."""

    def __init__(self, rig: Rig, name: str, agents: int, agent_commits: int, checkin_every: int | None = None,
                 slow_hook: bool = False):
        self.rig, self.name = rig, name
        folder = rig.work / "projects" / name
        (folder / "logs").mkdir(parents=True, exist_ok=True)
        self.repo = rig.work / "repos" / name
        make_repo(self.repo)
        self.slow_flag = rig.work / f"{name}.slow-git"
        if slow_hook:  # the user's own hook, there before orch: orch keeps it as post-rewrite.orch-user
            hook = Path(git(self.repo, "rev-parse", "--path-format=absolute", "--git-path", "hooks")) / "post-rewrite"
            hook.parent.mkdir(parents=True, exist_ok=True)
            hook.write_text(f"#!/bin/sh\n# a slow repository, on demand\ncat >/dev/null\n"
                            f"if [ -e '{self.slow_flag}' ]; then sleep {SLOW_HOOK_S}; fi\nexit 0\n")
            hook.chmod(0o755)
        self.agents = [f"a{i}" for i in range(agents)]
        body = ""
        for agent in self.agents:
            command = f"{rig.toyagent} --log {folder / 'logs' / (agent + '.log')}"
            body += f"    - name: {agent}\n      command: {json.dumps(command)}\n"
            if checkin_every:
                body += (f"      checkins:\n        - every: {checkin_every}s\n"
                         f"          note: {json.dumps('Status check for ' + agent + ': commit and report')}\n")
        self.manifest = folder / "orch.yaml"
        self.manifest.write_text(f"apiVersion: orch/v1\nkind: Project\nmetadata:\n  name: {name}\nspec:\n"
                                 f"  repo: {json.dumps(str(self.repo))}\n  upstream: main\n  agents:\n{body}")
        rig.projects[name] = folder
        started = time.perf_counter()
        rig.apply(self.manifest)
        self.apply_s = time.perf_counter() - started
        status = json.loads(rig.run_orch("status", name, "-o", "json").stdout)
        self.worktrees = {a["name"]: Path(a["worktree"]["path"]) for a in status["projects"][0]["agents"]}
        for agent, path in self.worktrees.items():
            for n in range(agent_commits):  # the agent's own work, so each sync is a real rebase
                (path / f"{agent}-work-{n}.txt").write_text(f"{agent}'s work {n}\n")
                git(path, "add", f"{agent}-work-{n}.txt")
                git(path, "commit", "-q", "-m", f"{agent}: work {n}")
        self.heads = Heads(self.repo, self.worktrees)
        self.ancestry = Ancestry(self.heads.common, self.repo)
        self.commits = 0

    def stage_upstream_change(self) -> None:
        self.commits += 1
        path = self.repo / "upstream" / f"change{self.commits:04d}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"upstream change {self.commits}\n")
        git(self.repo, "add", str(path.relative_to(self.repo)))

    def commit_upstream(self) -> tuple[float, str, frozenset[str], float]:
        """Commit a staged change on main: (start, its id, commits older than it, git commit's own time)."""
        older = frozenset(self.heads.branch_heads())
        start = time.time()
        result = subprocess.run(["git", "commit", "-q", "-m", f"upstream change {self.commits}"], cwd=self.repo,
                                capture_output=True, text=True)
        ended = time.time()
        if result.returncode != 0:
            raise RuntimeError(f"git commit on main failed: {result.stderr.strip()}")
        target = self.heads.ref("refs/heads/main")
        if target is None or target in older:
            raise RuntimeError("the commit on main is not visible in refs/heads/main")
        return start, target, older, ended - start


# -- a) sync latency -----------------------------------------------------------------------------------


def bench_latency(project: GitProject, commits: int, gap: float) -> dict[str, Any]:
    rig = project.rig
    watcher = rig.start_watcher(str(project.manifest), "--interval", "600")
    rig.wait_for_heartbeat(watcher)
    time.sleep(1.0)  # the sync lane's first pass (nothing behind) is over; part of the protocol
    log(f"  a) watcher {watcher.pid} up; {commits} commits on main, {len(project.agents)} worktrees each")
    rows = []
    for index in range(commits):
        project.stage_upstream_change()
        start, target, older, commit_s = project.commit_upstream()
        done, first = wait_all_contain(project.heads, project.ancestry, target, older, COMMIT_TIMEOUT_S)
        rows.append({"commit": target, "start": start, "git_commit_s": commit_s,
                     "all_s": None if done is None else done - start,
                     "first_s": min(first.values()) - start if first else None, "rebased": len(first)})
        if watcher.poll() is not None:
            raise RuntimeError(f"the watcher exited ({watcher.returncode}):\n{rig.watcher_output(watcher)}")
        if (index + 1) % 10 == 0:
            log(f"     {index + 1}/{commits} commits")
        time.sleep(gap)  # an idle watcher for the next commit (its own rebases' hooks woke it again)
    exit_code = rig.stop_watcher(watcher)
    events = rig.query("SELECT ts, data FROM events WHERE project = ? AND kind = 'sync.rebased'", (project.name,))
    last_event: dict[str, float] = {}
    per_commit: dict[str, int] = defaultdict(int)
    for row in events:
        upstream = json.loads(row["data"] or "{}").get("upstream")
        if upstream:
            last_event[upstream] = max(last_event.get(upstream, 0.0), row["ts"])
            per_commit[upstream] += 1
    errors = rig.query("SELECT kind, message FROM events WHERE project = ? AND kind IN ('watch.error', "
                       "'sync.failed', 'sync.conflict', 'sync.skipped')", (project.name,))
    all_s = [r["all_s"] for r in rows if r["all_s"] is not None]
    event_s = [last_event[r["commit"]] - r["start"] for r in rows if r["commit"] in last_event]
    return {
        "commits": commits,
        "agents": len(project.agents),
        "gap_s": gap,
        "timed_out": sum(1 for r in rows if r["all_s"] is None),
        "all_rebased": distribution_ms(all_s),
        "first_rebased": distribution_ms([r["first_s"] for r in rows if r["first_s"] is not None]),
        "last_sync_rebased_event": distribution_ms(event_s),
        "git_commit_itself": distribution_ms([r["git_commit_s"] for r in rows]),
        "over_1s_target": sum(1 for x in all_s if x > TARGET_S),
        "over_2s_contract": sum(1 for x in all_s if x > CONTRACT_S),
        "rebases_per_commit_from_events": sorted(set(per_commit[r["commit"]] for r in rows)),
        "poll": {"interval_ms": POLL_S * 1000, "git_fallbacks": project.ancestry.fallbacks,
                 "objects_walked": project.ancestry.walked},
        "watcher_exit": exit_code,
        "problems": [f"{r['kind']}: {r['message']}" for r in errors][:10],
    }


# -- b) in-process: one observation, one sync pass, one check-in pass ----------------------------------


class ProcessTally:
    """Wraps subprocess.run in this process: every process started, with its wall time."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []
        self._original: Callable[..., Any] | None = None

    def __enter__(self) -> "ProcessTally":
        original = self._original = subprocess.run

        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.calls.append((process_kind(args[0] if args else kwargs.get("args")),
                                   time.perf_counter() - started))

        subprocess.run = run  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: Any) -> None:
        subprocess.run = self._original  # type: ignore[assignment]

    def by_kind(self) -> dict[str, tuple[int, float]]:
        kinds: dict[str, list[float]] = defaultdict(list)
        for kind, seconds in self.calls:
            kinds[kind].append(seconds)
        return {kind: (len(times), sum(times)) for kind, times in kinds.items()}


def timed(fn: Callable[[], Any]) -> tuple[float, ProcessTally]:
    with ProcessTally() as tally:
        started = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - started
    return elapsed, tally


def median_breakdown(runs: list[tuple[float, ProcessTally]]) -> dict[str, Any]:
    """Median total, and per process kind the median count and median ms over the runs."""
    kinds = sorted({k for _, tally in runs for k in tally.by_kind()})
    rows = {}
    for kind in kinds:
        counts = [tally.by_kind().get(kind, (0, 0.0))[0] for _, tally in runs]
        times = [tally.by_kind().get(kind, (0, 0.0))[1] for _, tally in runs]
        rows[kind] = {"processes": statistics.median(counts), "ms": round(statistics.median(times) * 1000, 2)}
    rest = [total - sum(t for _, t in tally.calls) for total, tally in runs]
    git_counts = [sum(1 for k, _ in tally.calls if k.startswith("git")) for _, tally in runs]
    git_ms = [sum(t for k, t in tally.calls if k.startswith("git")) for _, tally in runs]
    return {"runs": len(runs), "total_ms": round(statistics.median([t for t, _ in runs]) * 1000, 2),
            "total_min_ms": round(min(t for t, _ in runs) * 1000, 2),
            "total_max_ms": round(max(t for t, _ in runs) * 1000, 2),
            "git_processes": statistics.median(git_counts), "git_ms": round(statistics.median(git_ms) * 1000, 2),
            "not_in_processes_ms": round(statistics.median(rest) * 1000, 2), "by_process": rows}


def bench_in_process(project: GitProject, observe_runs: int = 20, sync_runs: int = 5) -> dict[str, Any]:
    """The watcher is stopped: observation, sync pass and check-in pass, called here."""
    from reconciler.manifest.desired import desired_project
    from reconciler.context import Context
    from reconciler.sync import observe_worktrees, project_upstream, sync_project
    from reconciler.project import reconcile_project
    from reconciler.manifest.loader import load_manifest
    from reconciler.git.observe import observe_repo

    rig = project.rig
    ctx = Context(home=rig.home, socket=rig.socket)
    loaded = load_manifest(project.manifest)
    store = ctx.store(maintain=True)
    record = store.project(project.name)
    desired = desired_project(loaded, record.id, ctx.home, ctx.socket, project_upstream(loaded, record))
    settings = desired.git
    log(f"  b) in-process: observation x{observe_runs}, sync pass x{sync_runs}, check-in pass x{sync_runs}")

    def observe_once() -> None:
        facts, _ = observe_worktrees(settings, observe_repo(settings.repo))
        assert len(facts) == len(project.agents)

    observe_once()  # warm-up (file system caches)
    observe_once()
    observation = median_breakdown([timed(observe_once) for _ in range(observe_runs)])

    # reference costs, the same worktrees, this run
    worktrees = [str(p) for p in project.worktrees.values()]
    status_ms = median_ms(lambda: [subprocess.run(["git", "status", "--porcelain"], cwd=w, capture_output=True)
                                   for w in worktrees], observe_runs, warmup=2)
    ahead_behind = subprocess.run(["git", "for-each-ref", "--format=%(refname:short) %(ahead-behind:main)",
                                   "refs/heads/"], cwd=project.repo, capture_output=True, text=True)
    has_ahead_behind = ahead_behind.returncode == 0 and "ahead-behind" not in ahead_behind.stdout
    fmt = "%(refname:short) %(ahead-behind:main)" if has_ahead_behind else "%(refname:short) %(objectname)"
    for_each_ref_ms = median_ms(lambda: subprocess.run(["git", "for-each-ref", f"--format={fmt}", "refs/heads/"],
                                                       cwd=project.repo, capture_output=True), observe_runs, warmup=2)
    rev_list_ms = median_ms(lambda: [subprocess.run(["git", "rev-list", "--left-right", "--count",
                                                     f"orch/{a}...main"], cwd=project.repo, capture_output=True)
                                     for a in project.agents], observe_runs, warmup=2)
    rebase_ms = bench_one_rebase(project.rig.work / "rebase-reference", observe_runs, orch_hooks=False)
    rebase_hooks_ms = bench_one_rebase(project.rig.work / "rebase-reference-hooks", observe_runs, orch_hooks=True)

    # one sync pass after a commit on main (the first one also opens the store: not counted)
    sync_runs_out = []
    for index in range(sync_runs + 1):
        project.stage_upstream_change()
        _, target, older, _ = project.commit_upstream()
        result = timed(lambda: sync_project(ctx, loaded))
        done, _ = wait_all_contain(project.heads, project.ancestry, target, older, 0.0)
        if done is None:
            raise RuntimeError("an in-process sync pass did not bring every worktree up to main")
        if index:
            sync_runs_out.append(result)
    sync_pass = median_breakdown(sync_runs_out)
    sync_nothing = median_breakdown([timed(lambda: sync_project(ctx, loaded)) for _ in range(sync_runs)])

    # one check-in pass, as the watcher's main loop runs it (no check-in due in this project)
    checkin_pass = median_breakdown([timed(lambda: reconcile_project(
        ctx, loaded, fire_checkins=True, missed_before=time.time(), wait_for_backoff=False, lookahead=0.05))
        for _ in range(sync_runs + 1)][1:])
    store.close()
    return {
        "observation": observation,
        "reference_same_run": {
            "git_status_porcelain_10_worktrees_ms": status_ms,
            "for_each_ref_all_branches_ms": for_each_ref_ms,
            "for_each_ref_has_ahead_behind": has_ahead_behind,
            "rev_list_left_right_count_10_branches_ms": rev_list_ms,
            "rebase_one_commit_onto_upstream_one_ahead_ms": rebase_ms,
            "same_rebase_with_orch_hooks_installed_ms": rebase_hooks_ms,
        },
        "sync_pass_after_commit": sync_pass,
        "sync_pass_nothing_to_do": sync_nothing,
        "checkin_pass": checkin_pass,
    }


def bench_one_rebase(work: Path, runs: int, orch_hooks: bool) -> float:
    """The issue's reference: `git rebase main` of one commit onto an upstream one commit ahead (median ms).

    In a linked worktree on `orch/a`, as orch rebases; with `orch_hooks`, orch's git hooks are
    installed (for an ORCH_HOME with no watcher), as in every orch repository: a rebase there
    runs ~18 hook processes (reference-transaction for each ref update, post-commit, post-rewrite).
    """
    from reconciler.git.hooks import install_hooks

    repo, tree = work / "repo", work / "worktree"
    make_repo(repo, files=50)
    for sample in Path(git(repo, "rev-parse", "--path-format=absolute", "--git-path", "hooks")).glob("*.sample"):
        sample.unlink()
    if orch_hooks:
        install_hooks(repo, work / "orch-home", "main")
    git(repo, "worktree", "add", "-q", "-b", "orch/a", str(tree))
    (tree / "a.txt").write_text("a's work\n")
    git(tree, "add", "a.txt")
    git(tree, "commit", "-q", "-m", "a's work")
    samples = []
    for index in range(runs + 2):
        (repo / f"main{index}.txt").write_text("main\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "main")
        started = time.perf_counter()
        git(tree, "-c", "rebase.autoStash=false", "rebase", "-q", "--no-autostash", "main")
        samples.append(time.perf_counter() - started)
    return round(statistics.median(samples[2:]) * 1000, 2)


# -- c) check-ins with and without git load ------------------------------------------------------------


def phase_stats(rig: Rig, project: str, window: tuple[float, float], agents: int,
                after: float | None = None) -> dict[str, Any]:
    """Check-in lateness of the firings due in `window` (typed_at - due), from the store."""
    start, end = window
    firings = rig.query("SELECT schedule_id, due, typed_at, missed, marker, state FROM firings WHERE project = ? "
                        "ORDER BY schedule_id, due", (project,))
    rebases = rig.query("SELECT ts FROM events WHERE project = ? AND kind = 'sync.rebased'", (project,))
    rows = [f for f in firings if start <= f["due"] < end and not f["missed"]]
    late = [f["typed_at"] - f["due"] for f in rows if f["typed_at"] is not None]
    logged = {d.marker: d.ts for d in rig.deliveries() if d.project == project and d.marker}
    submitted = [logged[f["marker"]] - f["due"] for f in rows if f["marker"] in logged]
    dropped = 0
    by_schedule: dict[int, list[float]] = defaultdict(list)
    for f in firings:
        by_schedule[f["schedule_id"]].append(f["due"])
    for dues in by_schedule.values():
        for this, following in zip(dues, dues[1:]):
            if start <= this < end:  # a delivery more than one interval late re-anchors the next due after it
                dropped += int(max(0.0, following - this - CHECKIN_EVERY_S) // CHECKIN_EVERY_S)
    return {"seconds": round(end - start, 1), "firings": len(rows), "not_typed": len(rows) - len(late),
            "typed_at_minus_due": distribution_ms(late),
            "agent_log_minus_due": distribution_ms(submitted),
            "missing_from_agent_logs": len(rows) - len(submitted),
            "later_than_1s": sum(1 for x in submitted if x > 1.0),
            "slots_dropped_by_late_delivery": dropped,
            "expected_slots": int(agents * (end - start) / CHECKIN_EVERY_S),
            "rebases_in_window": sum(1 for r in rebases if start <= r["ts"] < end),
            "typed_after_the_load_ended": None if after is None else
            sum(1 for f in rows if f["typed_at"] is not None and f["typed_at"] >= after)}


def bench_checkins_without_repo(rig: Rig, agents: int, seconds: float) -> dict[str, Any]:
    """The same agents and check-ins with no `repo:` at all: no git anywhere on the watcher's path."""
    manifest = rig.write_project("plain", {f"a{i}": CHECKIN_EVERY_S for i in range(agents)},
                                 lambda project, agent, every: f"Status check for {agent}: commit and report")
    rig.apply(manifest)
    watcher = rig.start_watcher(str(manifest), "--interval", "600")
    rig.wait_for_heartbeat(watcher)
    time.sleep(2 * CHECKIN_EVERY_S)  # a few rounds of check-ins first; part of the protocol
    log(f"  c) watcher {watcher.pid}: {seconds:.0f} s of check-ins in a project without a repository")
    window = (time.time(), time.time() + seconds)
    time.sleep(seconds + CHECKIN_EVERY_S + 1)
    exit_code = rig.stop_watcher(watcher)
    rig.run_orch("destroy", "plain", "--yes")
    return {**phase_stats(rig, "plain", window, agents), "watcher_exit": exit_code}


def bench_checkins_under_load(rig: Rig, agents: int, agent_commits: int, seconds: float) -> dict[str, Any]:
    project = GitProject(rig, "ci", agents, max(1, agent_commits), checkin_every=CHECKIN_EVERY_S, slow_hook=True)
    watcher = rig.start_watcher(str(project.manifest), "--interval", "600")
    rig.wait_for_heartbeat(watcher)
    time.sleep(2 * CHECKIN_EVERY_S)  # a few rounds of check-ins first; part of the protocol
    log(f"  c) watcher {watcher.pid}: check-ins every {CHECKIN_EVERY_S} s on {agents} agents with worktrees; "
        f"{seconds:.0f} s without git load, then {seconds:.0f} s with it")
    quiet = (time.time(), time.time() + seconds)
    time.sleep(seconds)

    project.slow_flag.write_text("")
    load_start = time.time()
    commits: list[tuple[float, str, frozenset[str]]] = []
    while time.time() < load_start + seconds:
        project.stage_upstream_change()
        start, target, older, _ = project.commit_upstream()
        commits.append((start, target, older))
        time.sleep(max(0.0, start + LOAD_COMMIT_EVERY_S - time.time()))
    load = (load_start, time.time())
    project.slow_flag.unlink()
    caught_up = None
    if commits:
        done, _ = wait_all_contain(project.heads, project.ancestry, commits[-1][1], commits[-1][2], 300.0)
        caught_up = None if done is None else round(done - load[1], 2)
    time.sleep(2 * CHECKIN_EVERY_S + 1)  # check-ins due in the load window get typed; part of the protocol
    exit_code = rig.stop_watcher(watcher)
    errors = rig.query("SELECT kind, message FROM events WHERE project = ? AND kind IN ('watch.error', 'sync.failed')",
                       (project.name,))
    return {"agents": agents, "every_s": CHECKIN_EVERY_S, "slow_hook_s": SLOW_HOOK_S,
            "load_commit_every_s": LOAD_COMMIT_EVERY_S,
            "without_git_load": phase_stats(rig, project.name, quiet, agents),
            "with_git_load": phase_stats(rig, project.name, load, agents, after=load[1]),
            "load_commits": len(commits), "sync_caught_up_s_after_load": caught_up,
            "watcher_exit": exit_code,
            "problems": [f"{r['kind']}: {r['message']}" for r in errors][:10]}


# -- report ------------------------------------------------------------------------------------------


def render(s: dict[str, Any]) -> str:
    env, lat = s["environment"], s["latency"]

    def row(label: str, d: dict) -> str:
        cells = " ".join(f"{'n/a' if d.get(k) is None else d[k]:>8}"
                         for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))
        return f"  {label:50} {d['n']:>4} {cells}"

    head = f"  {'':50} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    p99 = lat["all_rebased"]["p99_ms"]
    verdict_1s = "n/a" if p99 is None else ("meets" if p99 < TARGET_S * 1000 else "MISSES")
    verdict_2s = "n/a" if p99 is None else ("meets" if p99 < CONTRACT_S * 1000 else "MISSES")
    lines = [
        f"orch worktree sync benchmark: python {env['python']}, {env['git']}, {env['tmux']}, {env['cpus']} cpus, "
        f"load average (1 min) before/after {env['loadavg_1m_before_after'][0]}/{env['loadavg_1m_before_after'][1]}",
        "",
        f"a) commit on main -> all {lat['agents']} clean worktrees rebased (each with {s['agent_commits']} commit(s) "
        f"of its own), {lat['commits']} commits, watcher --interval 600 (hooks wake it), {lat['gap_s']} s between "
        f"commits; orch apply took {s['apply_s']} s",
        head,
        row("all worktrees contain the commit (polled, 5 ms)", lat["all_rebased"]),
        row("first worktree contains it", lat["first_rebased"]),
        row("watcher's last sync.rebased event for it", lat["last_sync_rebased_event"]),
        row("git commit on main itself (hooks included)", lat["git_commit_itself"]),
        f"  timed out (> {COMMIT_TIMEOUT_S:.0f} s): {lat['timed_out']}; over 1 s: {lat['over_1s_target']}; over 2 s: "
        f"{lat['over_2s_contract']}; rebases per commit (events): {lat['rebases_per_commit_from_events']}; "
        f"poll fallbacks to git: {lat['poll']['git_fallbacks']}; watcher exit {lat['watcher_exit']}",
        f"  p99 {p99} ms vs 1 s target: {verdict_1s}; vs 2 s contract: {verdict_2s}",
    ]
    if lat["problems"]:
        lines.append(f"  problems recorded: {lat['problems']}")
    if s.get("in_process"):
        ip = s["in_process"]
        ref = ip["reference_same_run"]

        def breakdown(title: str, b: dict) -> list[str]:
            out = [f"  {title}: median {b['total_ms']} ms (min {b['total_min_ms']}, max {b['total_max_ms']}, "
                   f"{b['runs']} runs); git: {b['git_processes']:g} processes, {b['git_ms']} ms; outside any "
                   f"process (Python, SQLite): {b['not_in_processes_ms']} ms"]
            for kind, r in sorted(b["by_process"].items(), key=lambda kv: -kv[1]["ms"]):
                out.append(f"      {kind:32} x{r['processes']:<4g} {r['ms']:>8} ms")
            return out

        obs = ip["observation"]
        lines += ["", f"b) in-process, watcher stopped, {lat['agents']} worktrees"]
        lines += breakdown("one git observation (observe_repo + observe_worktrees)", obs)
        lines += [
            f"      vs the issue's ~{STATUS_REFERENCE_MS:.0f} ms for 10 x git status: "
            f"{ratio(obs['total_ms'], STATUS_REFERENCE_MS)}x; vs 10 x git status measured now "
            f"({ref['git_status_porcelain_10_worktrees_ms']} ms): "
            f"{ratio(obs['total_ms'], ref['git_status_porcelain_10_worktrees_ms'])}x",
        ]
        lines += breakdown("one sync pass after a commit on main (sync_project)", ip["sync_pass_after_commit"])
        lines += breakdown("one sync pass with nothing to do", ip["sync_pass_nothing_to_do"])
        lines += breakdown("one check-in pass (reconcile_project, fire_checkins)", ip["checkin_pass"])
        ahead_behind = ref["for_each_ref_has_ahead_behind"]
        references = [
            ("10 x git status --porcelain (10 processes)", ref["git_status_porcelain_10_worktrees_ms"],
             f"issue: ~{STATUS_REFERENCE_MS:.0f} ms"),
            ("one for-each-ref of every branch" + (" with ahead-behind" if ahead_behind else ""),
             ref["for_each_ref_all_branches_ms"], f"issue: ~{FOR_EACH_REF_REFERENCE_MS:.0f} ms with ahead-behind"
             + ("" if ahead_behind else "; this git (< 2.41) has no %(ahead-behind)")),
            ("10 x git rev-list --left-right --count", ref["rev_list_left_right_count_10_branches_ms"], ""),
            ("git rebase, one commit onto upstream one ahead", ref["rebase_one_commit_onto_upstream_one_ahead_ms"],
             f"issue: ~{REBASE_REFERENCE_MS:.0f} ms"),
            ("the same rebase with orch's git hooks installed", ref["same_rebase_with_orch_hooks_installed_ms"], ""),
        ]
        lines.append("  reference costs measured in this run (median):")
        for label, value, note in references:
            lines.append(f"      {label:48} {value:>8} ms" + (f"   ({note})" if note else ""))
    if s.get("checkins"):
        c = s["checkins"]
        lines += ["", f"c) check-in lateness, {c['agents']} agents every {c['every_s']} s; git load: a commit on main "
                      f"every {c['load_commit_every_s']} s, a user post-rewrite hook sleeping {c['slow_hook_s']} s "
                      f"(chained by orch's); typed = firings.typed_at - due (the ledger row, written up to 50 ms "
                      f"before due), submitted = the agent's own log - due",
                  f"  {'':38} {'firings':>7} {'typed p50':>9} {'p99':>7} {'submitted p50':>13} {'p95':>7} "
                  f"{'p99':>7} {'max':>7} {'>1 s':>5} {'dropped':>7} {'rebases':>7}"]

        def cell(d: dict, key: str, width: int) -> str:
            return f"{'n/a' if d.get(key) is None else d[key]:>{width}}"

        for label, key in (("no repository in the manifest", "no_repository"),
                           ("worktrees, without git load", "without_git_load"),
                           ("worktrees, with git load (slow repo)", "with_git_load")):
            p = c.get(key)
            if p is None:
                continue
            t, a = p["typed_at_minus_due"], p["agent_log_minus_due"]
            lines.append(f"  {label:38} {p['firings']:>7} {cell(t, 'p50_ms', 9)} {cell(t, 'p99_ms', 7)} "
                         f"{cell(a, 'p50_ms', 13)} {cell(a, 'p95_ms', 7)} {cell(a, 'p99_ms', 7)} "
                         f"{cell(a, 'max_ms', 7)} {p['later_than_1s']:>5} {p['slots_dropped_by_late_delivery']:>7} "
                         f"{p['rebases_in_window']:>7}")
        lines.append("  (ms; 'dropped' = check-in slots the schedule skipped because a delivery came more than one "
                     "interval late)")
        lines.append(f"  {c['load_commits']} commits under load; the sync lane caught up "
                     f"{c['sync_caught_up_s_after_load']} s after the load ended; of the firings due under load, "
                     f"{c['with_git_load']['typed_after_the_load_ended']} were typed only after it ended; "
                     f"watcher exit {c['watcher_exit']}")
        if c["problems"]:
            lines.append(f"  problems recorded: {c['problems']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=50, help="commits on main to time (default 50)")
    parser.add_argument("--agents", type=int, default=10, help="agents, each with a worktree (default 10)")
    parser.add_argument("--agent-commits", type=int, default=1,
                        help="commits of its own on each agent's branch (default 1; 0: fast-forwards)")
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between one commit's sync and the next")
    parser.add_argument("--checkin-seconds", type=float, default=40.0,
                        help="length of each check-in phase in (c), without and with git load (default 40)")
    parser.add_argument("--no-checkins", action="store_true", help="skip (c)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    args = parser.parse_args(argv)
    if shutil.which("tmux") is None or shutil.which("git") is None:
        raise SystemExit("tmux and git are needed")

    work = Path(tempfile.mkdtemp(prefix="orch-bench-sync-"))
    isolate_environment(work)
    os.environ.update(GIT_IDENTITY)
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY"):
        os.environ.pop(name, None)
    rigs: list[Rig] = []
    load_before = os.getloadavg()[0]

    def measure() -> dict[str, Any]:
        try:
            rig = Rig(work / "sync")
            rigs.append(rig)
            os.environ.update(ORCH_HOME=str(rig.home), ORCH_TMUX_SOCKET=rig.socket)  # in-process code in (b)
            log(f"benchmarking in {work} on tmux server {rig.socket}")
            project = GitProject(rig, "sync", args.agents, args.agent_commits)
            latency = bench_latency(project, args.commits, args.gap)
            in_process = bench_in_process(project)
            rig.close()
            checkins = None
            if not args.no_checkins:
                rig = Rig(work / "checkins")
                rigs.append(rig)
                log(f"  c) on tmux server {rig.socket}")
                checkins = bench_checkins_under_load(rig, args.agents, args.agent_commits, args.checkin_seconds)
                checkins["no_repository"] = bench_checkins_without_repo(rig, args.agents, args.checkin_seconds)
                rig.close()
            return {
                "environment": environment(load_before, git=["git", "--version"], tmux=["tmux", "-V"]),
                "agent_commits": args.agent_commits,
                "apply_s": round(project.apply_s, 2),
                "latency": latency,
                "in_process": in_process,
                "checkins": checkins,
                "targets": {
                    "target_p99_s": TARGET_S, "contract_s": CONTRACT_S,
                    "p99_under_1s": latency["all_rebased"]["p99_ms"] is not None
                    and latency["all_rebased"]["p99_ms"] < TARGET_S * 1000 and latency["timed_out"] == 0,
                    "max_under_2s": latency["all_rebased"]["max_ms"] is not None
                    and latency["all_rebased"]["max_ms"] < CONTRACT_S * 1000 and latency["timed_out"] == 0,
                    "p99_over_1s_target": ratio(latency["all_rebased"]["p99_ms"], TARGET_S * 1000),
                    "observation_over_33ms_reference": ratio(in_process["observation"]["total_ms"],
                                                             STATUS_REFERENCE_MS),
                    "checkin_p99_with_over_without_git_load": ratio(
                        checkins["with_git_load"]["agent_log_minus_due"]["p99_ms"],
                        checkins["without_git_load"]["agent_log_minus_due"]["p99_ms"]) if checkins else None,
                    "checkins_within_1s_under_git_load": checkins["with_git_load"]["later_than_1s"] == 0
                    and checkins["with_git_load"]["slots_dropped_by_late_delivery"] == 0 if checkins else None,
                },
            }
        finally:
            for rig in rigs:
                rig.close()
            shutil.rmtree(work, ignore_errors=True)

    return run_and_print(measure, render, args.json)


if __name__ == "__main__":
    sys.exit(main())
