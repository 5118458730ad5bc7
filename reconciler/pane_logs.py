"""Saved pane histories: `orch logs AGENT --save`, and the watcher's copy of a dead agent's last screen.

Files go to ORCH_HOME/projects/<project>-<id>/logs/<agent>-<UTC time>.log (0600 in 0700 folders),
the old `registry/logs/` habit; the newest KEEP per agent are kept, so a crash loop cannot fill
the disk.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from reconciler.home import private_dir, project_folder
from reconciler.runtime.tmux import Tmux

KEEP = 20


def save_history(tmux: Tmux, home: Path, project: str, project_id: str, agent: str, pane_id: str) -> Path | None:
    """The pane's whole history (scrollback and screen) in a new file; None if tmux has no such pane."""
    result = tmux.run(["capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t", pane_id], check=False)
    if result.returncode != 0:
        return None
    folder = private_dir(project_folder(home, project, project_id) / "logs")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = folder / f"{agent}-{stamp}.log"
    for attempt in range(1, 100):  # two saves in one second get their own files
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except FileExistsError:
            path = folder / f"{agent}-{stamp}-{attempt}.log"
    else:
        return None
    with os.fdopen(descriptor, "w") as handle:
        handle.write(result.stdout.rstrip("\n") + "\n")
    for old in sorted(folder.glob(f"{agent}-*.log"), key=lambda p: p.stat().st_mtime)[:-KEEP]:
        old.unlink(missing_ok=True)
    return path
