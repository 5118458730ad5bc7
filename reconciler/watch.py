"""`orch reconcile`: once, or `--watch` — a level-triggered loop over projects.

The watcher sleeps until the earliest of: the next due check-in (or end of a credit hold or
crash-loop backoff), a wake-up (`orch checkin`, an agent's process ending, a delivery done),
and `--interval` (the full resync). Deliveries run on per-agent lanes, never in the pass. Each pass re-reads manifests that changed on disk, converges each project
under its lock, and writes a heartbeat. One project's failure never stops the others.
SIGTERM/SIGINT finish the current pass and exit 0. At most one watcher per project.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from filelock import FileLock, Timeout

from reconciler.errors import ProjectGone, UserError
from reconciler.execute.lanes import Lanes
from reconciler.runtime.wake import Waker
from reconciler.state import watchers as watcher_records
from reconciler.context import Context, PassResult
from reconciler.home import private_dir
from reconciler.locks import describe_holder, record_holder, watcher_lock
from reconciler.project import load_registered, reconcile_project
from reconciler.sync import sync_project
from reconciler.manifest.loader import LoadedManifest, ManifestError, load_manifest

LOOKAHEAD_S = 0.05  # fire what is due this close, then wait for its exact moment inside the executor
MIN_SLEEP_S = 0.005
LANES_GRACE_S = 15.0
METRICS_EVERY_S = 15.0


@dataclass
class Watched:
    """A project the watcher converges: where its manifest is, and the last good version of it."""

    path: Path
    loaded: LoadedManifest
    mtime_ns: int

    @property
    def name(self) -> str:
        return self.loaded.manifest.metadata.name


def manifests_to_watch(ctx: Context, files: list[str]) -> list[Watched]:
    """The named manifests (each must be valid), or every registered project's (broken ones skipped)."""
    if files:
        loaded_all = [load_manifest(f) for f in files]
    else:
        store = ctx.store()
        loaded_all = [m for m in (load_registered(store, r) for r in store.projects()) if m is not None]
    return [Watched(m.path, m, _mtime(m.path)) for m in loaded_all]


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def reconcile_once(ctx: Context, files: list[str]) -> list[PassResult]:
    """Every project once: windows, briefs, schedules, the check-ins due (missed ones per policy) and
    the worktrees' sync."""
    results = []
    started = time.time()
    for watched in manifests_to_watch(ctx, files):
        result = reconcile_project(ctx, watched.loaded, fire_checkins=True, missed_before=started,
                                   wait_for_backoff=True)
        result.outcomes += sync_project(ctx, watched.loaded).outcomes
        results.append(result)
    return results


def projects_to_pass(watched: list[str], due: dict[str, float], delivered: set[str], every_project: bool,
                     now: float) -> list[str]:
    """Which projects this wake-up converges: all of them after a poke, tmux's hook, a death or the
    resync; otherwise only those whose own next moment has come or whose lane just finished (ten
    projects need not be reconciled for one project's check-in)."""
    if every_project:
        return list(watched)
    return [name for name in watched if name in delivered or due.get(name, 0.0) <= now + LOOKAHEAD_S]


class Watcher:
    def __init__(self, ctx: Context, files: list[str], interval: float,
                 report: Callable[[PassResult], None] = lambda result: None, metrics_textfile: Path | None = None):
        self.ctx = ctx
        self.metrics_textfile = metrics_textfile
        self.metrics_written = 0.0
        self.files = files
        self.interval = interval
        self.report = report
        self.stop = threading.Event()
        self.started = time.time()
        self.watched: dict[str, Watched] = {}
        self.registered: set[str] = set()  # projects seen in the registry (gone again = destroyed)
        self.locks = ExitStack()
        self.waker: Waker | None = None
        self.lanes: Lanes | None = None
        self.pending: set[str] = set()  # projects whose lane finished a delivery since the last pass
        self.pending_lock = threading.Lock()

    # -- ownership ---------------------------------------------------------------------------------

    def _claim(self, watched: Watched, strict: bool) -> bool:
        """Hold the project's watcher lock for our lifetime; say who holds it otherwise."""
        lock_file = watcher_lock(self.ctx.home, watched.name)
        private_dir(lock_file.parent)
        lock = FileLock(lock_file, mode=0o600)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if strict:
                raise UserError(f"project {watched.name!r} is already watched by {describe_holder(lock_file)}")
            return False
        self.locks.callback(lock.release)
        record_holder(lock_file)
        self.watched[watched.name] = watched
        self._note_registered(watched.name)
        return True

    def _note_registered(self, name: str) -> None:
        """Once seen registered, a project is never registered again by this watcher: only apply does."""
        if self.ctx.store().project(name) is not None:
            self.registered.add(name)

    def _adopt_new_projects(self) -> None:
        """Without FILE arguments, projects applied after we started are watched too."""
        if self.files:
            return
        store = self.ctx.store()
        for record in store.projects():
            if record.name not in self.watched:
                loaded = load_registered(store, record)
                if loaded is not None:
                    self._claim(Watched(loaded.path, loaded, _mtime(loaded.path)), strict=False)

    def _refresh(self, watched: Watched) -> Watched:
        """Re-read a manifest that changed on disk; keep the last good one if the new one is bad."""
        try:
            mtime = watched.path.stat().st_mtime_ns
        except OSError:
            return watched
        if mtime == watched.mtime_ns:
            return watched
        try:
            loaded = load_manifest(watched.path)
        except ManifestError as err:
            self.ctx.store().record_event("manifest.invalid", f"{watched.path} changed but is invalid; keeping "
                                          "the last good version", project=watched.name, errors=str(err))
            return Watched(watched.path, watched.loaded, mtime)
        if loaded.manifest.metadata.name != watched.name:
            self.ctx.store().record_event("manifest.invalid", f"{watched.path} now names another project; ignored",
                                          project=watched.name)
            return Watched(watched.path, watched.loaded, mtime)
        self.ctx.store().record_event("manifest.reloaded", f"re-read {watched.path}", project=watched.name)
        return Watched(watched.path, loaded, mtime)

    # -- the loop ------------------------------------------------------------------------------------

    def run(self) -> int:
        self.ctx.store(maintain=True)  # integrity check and backup before anything reads the registry
        for watched in manifests_to_watch(self.ctx, self.files):
            self._claim(watched, strict=True)
        if not self.watched and self.files:
            raise UserError("nothing to watch")
        store = self.ctx.store(maintain=True)  # opened (and checked) once, before any thread uses it
        waker = self.waker = Waker(self.ctx.home, self.ctx.tmux).start()
        lanes = self.lanes = Lanes(self._delivered)
        self._install_signal_handlers(waker)
        sync_lane = threading.Thread(target=self._sync_lane, args=(waker.subscribe(),), name="git-sync", daemon=True)
        sync_lane.start()
        everything = waker.subscribe()  # set by a poke, tmux's hook or a death: any project may need a pass
        everything.set()
        next_resync = 0.0
        due: dict[str, float] = {}  # project -> when its last pass wants the next one
        try:
            with ThreadPoolExecutor(max_workers=max(1, min(8, len(self.watched) or 1))) as pool:
                while not self.stop.is_set():
                    waker.event.clear()
                    now = time.time()
                    if now >= next_resync:
                        self._adopt_new_projects()
                        next_resync = now + self.interval
                        everything.set()
                    with self.pending_lock:
                        delivered, self.pending = self.pending, set()
                    every_project = everything.is_set()
                    everything.clear()
                    names = projects_to_pass(list(self.watched), due, delivered, every_project, now)
                    for result in pool.map(self._pass, names):
                        due[result.project] = result.wake_at if result.wake_at is not None else next_resync
                        waker.track(result.project, result.pids)
                        self.report(result)
                    wake_at = min([next_resync, *(due.get(n, next_resync) for n in self.watched)])
                    watcher_records.heartbeat(store, self.watched, os.getpid(), self.started)
                    self._refresh_metrics()
                    if self.stop.is_set():
                        break
                    waker.event.wait(max(MIN_SLEEP_S, wake_at - time.time() - LOOKAHEAD_S))
        finally:
            lanes.join(timeout=LANES_GRACE_S)  # a delivery cut short is recovered from the ledger next time
            waker.stop()
            sync_lane.join(timeout=60)
            watcher_records.drop_watcher(store, list(self.watched), os.getpid())
            self.locks.close()
        return 0

    def _pass(self, name: str) -> PassResult:
        watched = self._refresh(self.watched[name])
        self.watched[name] = watched
        register = name not in self.registered  # a FILE never applied: the first pass registers it
        try:
            # Registration is checked under the project's lock, after any `orch destroy` finished.
            return reconcile_project(self.ctx, watched.loaded, fire_checkins=True, missed_before=self.started,
                                     wait_for_backoff=False, lookahead=LOOKAHEAD_S, lanes=self.lanes,
                                     register=register)
        except ProjectGone:  # `orch destroy` ran: do not bring the project back under a new id
            self.watched.pop(name, None)
            self.ctx.store().record_event("watch.dropped", f"{name} was destroyed: no longer watched", project=name)
            return PassResult(name)
        except Exception as err:  # one project's failure never stops the others
            try:
                self.ctx.store().record_event("watch.error", f"{type(err).__name__}: {err}", project=name)
            except Exception:
                pass
            return PassResult(name, wake_at=time.time() + min(self.interval, 5.0))
        finally:
            if register and name in self.watched:
                self._note_registered(name)

    def _refresh_metrics(self) -> None:
        """`--metrics-textfile`: the Prometheus text for node_exporter, at most every METRICS_EVERY_S
        (the collector reads it on its own schedule; a fresher file costs CPU and shows nothing more)."""
        if self.metrics_textfile is None or time.time() - self.metrics_written < METRICS_EVERY_S:
            return
        from reconciler import metrics  # lazy: only with --metrics-textfile

        try:
            metrics.write_textfile(self.metrics_textfile, metrics.prometheus(metrics.collect_metrics(self.ctx)))
        except Exception as err:  # the watcher's work matters more than its figures
            self.ctx.store().record_event("watch.error", f"metrics textfile: {type(err).__name__}: {err}")
        self.metrics_written = time.time()

    def _delivered(self, project: str, outcomes: list, error: Exception | None) -> None:
        """A lane finished: say what it did, and plan what follows (the next check-in, a retry).
        Only the pass loop is woken: a delivery gives the git lane nothing to do."""
        if error is not None:
            try:
                self.ctx.store().record_event("watch.error", f"delivery: {type(error).__name__}: {error}",
                                              project=project)
            except Exception:
                pass
        self.report(PassResult(project, outcomes))
        with self.pending_lock:
            self.pending.add(project)
        if self.waker is not None:  # lanes run only inside run(), after the waker started
            self.waker.event.set()  # the pass loop only: not `everything`, not the git lane

    def _sync_lane(self, wake: threading.Event) -> None:
        """Git sync on its own thread (and lock), so a slow repository never delays a check-in."""
        while not self.stop.is_set():
            wake.clear()
            for name, watched in list(self.watched.items()):
                if watched.loaded.manifest.spec.repo is None:
                    continue
                try:
                    self.report(sync_project(self.ctx, watched.loaded, repeat_problems=False))
                except ProjectGone:
                    continue  # destroyed: the pass loop lets it go
                except Exception as err:  # one project's failure never stops the others
                    try:
                        self.ctx.store().record_event("watch.error", f"sync: {type(err).__name__}: {err}",
                                                      project=name)
                    except Exception:
                        pass
            wake.wait(self.interval)

    def _install_signal_handlers(self, waker) -> None:
        def finish(signum, frame):
            self.stop.set()
            waker.wake()

        signal.signal(signal.SIGTERM, finish)
        signal.signal(signal.SIGINT, finish)
