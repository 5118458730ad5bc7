"""The second half of `make demo`: what orch exists for, offline, in well under a minute.

A watcher keeps the toy team alive (one agent killed, back at once), types a check-in on time,
moves an agent's worktree onto a new upstream commit, and the board shows it all. Everything is
done through the `orch` command line, as a user would; the watcher is left running in the demo's
tmux server (session `orch-watch`) for you to attach to. `make demo-clean` removes it all.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import textwrap
import time
from pathlib import Path

BIN = Path(sys.executable).parent
ORCH = str(BIN / "orch")
HOME = Path(os.environ["ORCH_HOME"])
SOCKET = os.environ["ORCH_TMUX_SOCKET"]
WATCH_SESSION = "orch-watch"


def say(text: str) -> None:
    print(f"== {text}", flush=True)


def orch(*args: str) -> str:
    result = subprocess.run([ORCH, *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"demo: orch {shlex.join(args)} failed:\n{result.stderr}")
    return result.stdout


def tmux(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def wait_for(what: str, predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    sys.exit(f"demo: gave up after {timeout:.0f}s waiting for {what}")


def agent(project: str, name: str) -> dict:
    document = json.loads(orch("status", project, "-o", "json"))
    return next(a for a in document["projects"][0]["agents"] if a["name"] == name)


def shop_manifest() -> Path:
    """A second project with a git repository: each agent works in its own worktree."""
    folder = HOME / "demo-shop"
    repo = folder / "repo"
    if not (repo / ".git").exists():
        repo.mkdir(parents=True)
        git(repo, "init", "-q", "-b", "main")
        (repo / "README.md").write_text("# shop\n")
        git(repo, "add", "README.md")
        git(repo, "-c", "user.name=demo", "-c", "user.email=demo@example.invalid", "commit", "-q", "-m", "start")
    manifest = folder / "orch.yaml"
    manifest.write_text(textwrap.dedent("""\
        apiVersion: orch/v1
        kind: Project
        metadata:
          name: shop
        spec:
          repo: repo
          upstream: main
          defaults:
            command: orch-toyagent
          agents:
            - name: lead
              worktree: false
            - name: dev
              brief: "You are the developer. Commit small steps on your branch."
          sync: {mode: rebase, escalate_to: lead}
        """))
    return manifest


def start_watcher() -> None:
    if tmux("has-session", "-t", f"={WATCH_SESSION}").returncode == 0:
        return
    command = shlex.join([ORCH, "reconcile", "--watch", "--interval", "10"])
    tmux("new-session", "-d", "-s", WATCH_SESSION, "-e", f"ORCH_HOME={HOME}", "-e", f"ORCH_TMUX_SOCKET={SOCKET}",
         "-e", f"PATH={BIN}{os.pathsep}{os.environ.get('PATH', '')}", command)
    wait_for("the watcher's heartbeat", lambda: json.loads(orch("status", "quickstart", "-o", "json"))
             ["projects"][0]["watcher"])


def main() -> int:
    say("a second project with a repository: shop (its dev works in its own worktree)")
    manifest = shop_manifest()
    print(orch("apply", str(manifest)).rstrip())

    say(f"orch reconcile --watch, left running in tmux session {WATCH_SESSION!r}")
    start_watcher()

    say("kill -9 quickstart/dev: the watcher sees the death in /proc and restarts it")
    before = agent("quickstart", "dev")["restarts"]
    pid = int(tmux("display", "-p", "-t", f"={agent_session('quickstart')}:=dev", "#{pane_pid}").stdout)
    killed = time.monotonic()
    os.kill(pid, 9)
    wait_for("dev to come back", lambda: (a := agent("quickstart", "dev"))["alive"] and a["restarts"] > before)
    print(f"   dev is back after {time.monotonic() - killed:.1f} s (restarts: {before + 1})")

    say("a check-in in 3 s for quickstart/qa, typed on the dot")
    orch("checkin", "quickstart/qa", "--in", "3s", "--note", "Check-in: which regressions did you find?")
    event = wait_for("the check-in", lambda: [json.loads(line) for line in orch(
        "events", "quickstart", "--agent", "qa", "--kind", "checkin.delivered", "-o", "json").splitlines()])
    print(f"   delivered {event[-1]['data']['late_s'] * 1000:.0f} ms after its due time")

    say("a new commit on shop's main: the watcher rebases dev's worktree onto it")
    repo = manifest.parent / "repo"
    (repo / "CHANGELOG.md").write_text("- the login page\n")
    git(repo, "add", "CHANGELOG.md")
    git(repo, "-c", "user.name=demo", "-c", "user.email=demo@example.invalid", "commit", "-q", "-m", "changelog")
    upstream = git(repo, "rev-parse", "main")
    committed = time.monotonic()
    worktree = Path(agent("shop", "dev")["worktree"]["path"])
    wait_for("dev's worktree to follow", lambda: subprocess.run(
        ["git", "merge-base", "--is-ancestor", upstream, "HEAD"], cwd=worktree).returncode == 0
        and (worktree / "CHANGELOG.md").exists())
    print(f"   dev's worktree has the commit {time.monotonic() - committed:.1f} s later: {worktree}")

    say("orch status: the board")
    print(orch("status").rstrip())
    say("orch metrics")
    print(orch("metrics").rstrip())
    print(f"\nThe watcher:  tmux -L {SOCKET} attach -t {WATCH_SESSION}")
    return 0


def agent_session(project: str) -> str:
    return json.loads(orch("status", project, "-o", "json"))["projects"][0]["session"]


if __name__ == "__main__":
    sys.exit(main())
