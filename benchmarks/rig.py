"""What every benchmark shares: timing, percentiles, ratios, waiting, private tmux servers, logging.

Each script in benchmarks/ keeps only its scenario and imports its helpers from here (never
from another script). `Rig` is a private tmux server (`tmux -L <prefix>-<random>`, killed and
its socket removed by `close()`) with a temporary ORCH_HOME and HOME, toy-agent projects,
watcher processes, the store and the toy agents' logs. Nothing here asserts on time.
"""

from __future__ import annotations

import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # so `reconciler` imports even from a plain checkout
    sys.path.insert(0, str(REPO))

BIN = Path(sys.executable).parent
MARKER = re.compile(r"^(?P<note>.*) \[orch:(?P<marker>[0-9a-f]{6})\]$", re.S)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def find_tool(name: str, required: bool = True) -> str | None:
    """A console script of this interpreter's environment (or the checkout's .venv, or PATH)."""
    for candidate in (BIN / name, REPO / ".venv" / "bin" / name):
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None and required:
        raise SystemExit(f"{name} is not installed in this interpreter's environment (pip install -e .)")
    return found


CALLER_ONLY = ("TMUX", "TMUX_PANE", "XDG_STATE_HOME", "XDG_CONFIG_HOME")  # never passed to what we measure


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the caller's tmux client, ORCH_* or XDG folders."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_") and k not in CALLER_ONLY}
    env.update(extra)
    return env


def isolate_environment(work: Path) -> Path:
    """No ORCH_*, tmux or XDG variables from the caller; a HOME of our own (returned) and /bin/sh,
    for in-process code too."""
    for key in [k for k in os.environ if k.startswith("ORCH_") or k in CALLER_ONLY]:
        del os.environ[key]
    user_home = work / "user-home"
    user_home.mkdir(parents=True, exist_ok=True)
    os.environ.update(HOME=str(user_home), SHELL="/bin/sh")
    return user_home


def install_signal_handlers() -> None:
    """SIGTERM and SIGHUP unwind like Ctrl-C, so every `finally` cleans up its servers and folders."""
    def on_signal(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)


def tool_version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, env=clean_env())
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError):
        return "missing"


def environment(load_before: float, **tools: list[str]) -> dict[str, Any]:
    """Where the figures were taken: versions (`tools`: name -> argv), CPUs, and how busy the
    machine was before and after (other work shifts every number)."""
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            **{name: tool_version(argv) for name, argv in tools.items()},
            "loadavg_1m_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


GIT_IDENTITY = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
                "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid",
                "GIT_CONFIG_NOSYSTEM": "1"}


# -- timing, percentiles, ratios, waiting --------------------------------------------------------


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy; TimeoutError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); q in [0, 100]."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def distribution_ms(values_s: list[float]) -> dict[str, Any]:
    def ms(x: float | None) -> float | None:
        return None if x is None else round(x * 1000, 1)

    return {"n": len(values_s), "p50_ms": ms(percentile(values_s, 50)), "p95_ms": ms(percentile(values_s, 95)),
            "p99_ms": ms(percentile(values_s, 99)), "max_ms": ms(max(values_s) if values_s else None),
            "min_ms": ms(min(values_s) if values_s else None)}


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(utime+stime, cutime+cstime) of a live process, in seconds, from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) ": state is fields[0]
    tick = os.sysconf("SC_CLK_TCK")
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    return (utime + stime) / tick, (cutime + cstime) / tick


def median_ms(fn: Callable[[], Any], runs: int, warmup: int | None = None) -> float:
    """Median wall time of `fn()` in ms over `runs`, after `warmup` untimed calls (default: up to 20)."""
    for _ in range(min(20, runs) if warmup is None else warmup):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    return round(statistics.median(samples) / 1e6, 4)


def ratio(x: float | None, y: float | None) -> float | None:
    return round(x / y, 3) if x is not None and y else None


def process_kind(argv: Any) -> str:
    """`git status`, `git rebase`, `tmux list-panes`, ... for the argv of a process started."""
    words = os.fsdecode(argv).split() if isinstance(argv, (str, bytes, os.PathLike)) else [os.fsdecode(a) for a in argv]
    tool = os.path.basename(words[0]) if words else "?"
    rest = words[1:]
    while rest and rest[0].startswith("-"):  # git -c X / --no-optional-locks, tmux -L NAME
        takes_value = rest[0] in ("-c", "-C", "-L", "-S", "-f")
        rest = rest[2:] if takes_value else rest[1:]
    return f"{tool} {rest[0]}" if rest else tool


# -- private tmux servers --------------------------------------------------------------------------


def socket_path(name: str) -> Path:
    return Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}" / name


def kill_server(name: str, tmux: str = "tmux", timeout: float = 5.0) -> None:
    """Kill the `-L name` server, wait until nobody listens on its socket (so it has exited
    before the next timed run), and remove the socket file tmux leaves behind."""
    subprocess.run([tmux, "-L", name, "kill-server"], capture_output=True, env=clean_env())
    path = socket_path(name)
    deadline = time.monotonic() + timeout
    while path.exists() and time.monotonic() < deadline:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except OSError:
            break
        finally:
            probe.close()
        time.sleep(0.01)
    path.unlink(missing_ok=True)


class Servers:
    """Hands out fresh `-L` socket names and kills every server it handed out."""

    def __init__(self, prefix: str = "orch-bench") -> None:
        self.prefix = f"{prefix}-{secrets.token_hex(4)}"
        self.names: list[str] = []
        self.live: set[str] = set()
        self.tmux = shutil.which("tmux") or "tmux"

    def new(self) -> str:
        name = f"{self.prefix}-{len(self.names)}"
        self.names.append(name)
        self.live.add(name)
        return name

    def kill(self, name: str) -> None:
        self.live.discard(name)
        kill_server(name, self.tmux)

    def kill_all(self) -> None:
        for name in sorted(self.live):
            self.kill(name)


# -- the rig: a private tmux server, temporary homes, toy-agent projects, watchers --------------


@dataclass(frozen=True)
class Delivery:
    """One submission as the toy agent logged it."""

    project: str
    agent: str
    ts: float
    pid: int
    text: str
    note: str | None  # the check-in note without its marker (None: not a check-in)
    marker: str | None


class Rig:
    """A private tmux server and ORCH_HOME/HOME under `work`, toy-agent projects, watcher processes.

    `close()` stops every watcher it started, kills the tmux server and removes its socket.
    """

    def __init__(self, work: Path, prefix: str = "orch-bench"):
        self.work = work
        self.work.mkdir(parents=True, exist_ok=True)
        self.socket = f"{prefix}-{secrets.token_hex(4)}"
        self.home = work / "orch-home"
        self.user_home = work / "user-home"
        self.user_home.mkdir(exist_ok=True)
        self.orch = find_tool("orch")
        self.toyagent = find_tool("orch-toyagent")
        self.tmux_bin = shutil.which("tmux") or "tmux"
        self.env = clean_env(HOME=str(self.user_home), SHELL="/bin/sh", ORCH_HOME=str(self.home),
                        ORCH_TMUX_SOCKET=self.socket, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        self.projects: dict[str, Path] = {}  # name -> folder (manifest and logs/)
        self.watchers: list[subprocess.Popen] = []
        self._conn: sqlite3.Connection | None = None

    # -- projects ------------------------------------------------------------------------------

    def write_project(self, name: str, agents: dict[str, int], note: Callable[[str, str, int], str]) -> Path:
        """A manifest of toy agents; `agents` maps agent -> check-in interval in seconds."""
        folder = self.work / "projects" / name
        (folder / "logs").mkdir(parents=True, exist_ok=True)
        body = ""
        for agent, every in agents.items():
            body += (f"    - name: {agent}\n"
                     f"      command: {self.toyagent} --log {folder / 'logs' / (agent + '.log')}\n"
                     f"      checkins:\n"
                     f"        - every: {every}s\n"
                     f"          note: {json.dumps(note(name, agent, every))}\n")
        path = folder / "orch.yaml"
        path.write_text(f"apiVersion: orch/v1\nkind: Project\nmetadata:\n  name: {name}\nspec:\n  agents:\n{body}")
        self.projects[name] = folder
        return path

    def run_orch(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        result = subprocess.run([self.orch, *args], env=self.env, capture_output=True, text=True,
                                timeout=timeout, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise RuntimeError(f"orch {' '.join(args)} failed (exit {result.returncode}):\n"
                               f"{result.stdout}\n{result.stderr}")
        return result

    def apply(self, manifest: Path) -> None:
        self.run_orch("apply", str(manifest))

    # -- watchers ------------------------------------------------------------------------------

    def start_watcher(self, *args: str) -> subprocess.Popen:
        out = open(self.work / f"watcher-{len(self.watchers)}.log", "w")
        proc = subprocess.Popen([self.orch, "reconcile", "--watch", *args], env=self.env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()
        self.watchers.append(proc)
        return proc

    def watcher_output(self, proc: subprocess.Popen) -> str:
        try:
            return (self.work / f"watcher-{self.watchers.index(proc)}.log").read_text()
        except (ValueError, OSError):
            return ""

    def stop_watcher(self, proc: subprocess.Popen, timeout: float = 60) -> int:
        """SIGTERM (the watcher finishes its pass and exits 0), SIGKILL past the timeout."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                return proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
        return proc.wait()

    def kill_watcher(self, proc: subprocess.Popen) -> None:
        """kill -9: no handler runs, nothing is cleaned up."""
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    def heartbeat(self, pid: int) -> float | None:
        rows = self.query("SELECT heartbeat FROM watchers WHERE pid = ?", (pid,))
        return rows[0]["heartbeat"] if rows else None

    def wait_for_heartbeat(self, proc: subprocess.Popen, timeout: float = 60) -> float:
        def beat() -> float | None:
            if proc.poll() is not None:
                raise RuntimeError(f"the watcher exited ({proc.returncode}):\n{self.watcher_output(proc)}")
            return self.heartbeat(proc.pid)

        return wait_until(beat, timeout, f"the heartbeat of watcher {proc.pid}", interval=0.02)

    # -- the store -----------------------------------------------------------------------------

    def connect(self) -> sqlite3.Connection:
        """A connection of our own to the store (WAL: reading never blocks the watcher)."""
        conn = sqlite3.connect(self.home / "state.db", timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 30000")
        return conn

    def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        if self._conn is None:
            self._conn = self.connect()
        return self._conn.execute(sql, params).fetchall()

    # -- the agents' own logs --------------------------------------------------------------------

    def deliveries(self) -> list[Delivery]:
        found = []
        for project, folder in self.projects.items():
            for path in sorted((folder / "logs").glob("*.log")):
                for line in path.read_text().splitlines():
                    if not line.strip():
                        continue
                    entry = json.loads(line)
                    match = MARKER.match(entry["text"])
                    found.append(Delivery(project, path.stem, entry["ts"], entry["pid"], entry["text"],
                                          match.group("note") if match else None,
                                          match.group("marker") if match else None))
        return sorted(found, key=lambda d: d.ts)

    # -- tmux ----------------------------------------------------------------------------------

    def tmux(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run([self.tmux_bin, "-L", self.socket, *args], capture_output=True, text=True,
                              env=self.env, check=check)

    def server_pid(self) -> int | None:
        out = self.tmux("display-message", "-p", "#{pid}").stdout.strip()
        return int(out) if out.isdigit() else None

    def client_processes(self, needle: str) -> list[int]:
        """Pids of live processes whose command line names our tmux socket and `needle`."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            words = [a.decode(errors="replace") for a in argv if a]
            if self.socket in words and needle in words:
                pids.append(int(entry.name))
        return pids

    def close(self) -> None:
        for proc in self.watchers:
            if proc.poll() is None:
                self.stop_watcher(proc, timeout=15)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        kill_server(self.socket, self.tmux_bin)


def run_and_print(measure: Callable[[], dict[str, Any]], render: Callable[[dict[str, Any]], str],
                  as_json: bool) -> int:
    """Run `measure()` (its own `finally` cleans up) with SIGTERM/SIGHUP unwinding like Ctrl-C, then
    print its summary as one JSON document or as `render`'s table; 130 when interrupted."""
    install_signal_handlers()
    try:
        summary = measure()
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    print(json.dumps(summary, indent=2) if as_json else render(summary))
    return 0
