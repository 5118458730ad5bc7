"""Compatibility with the Tmux-Orchestrator scripts (`orch compat install DIR`).

Agents briefed with the old instructions keep running `schedule_with_note.sh` and
`send-claude-message.sh`. `orch compat install` writes both as thin POSIX sh wrappers that
`exec` orch with their arguments passed as separate, quoted words (never a shell string built
from them): the check-in goes into orch's store and is fired by the watcher, the message is
delivered and verified like any `orch send`.

The old scripts address agents by tmux target (`session:window`); `resolve_target` maps such
a target to the project/agent that orch's window marks (`@orch_project`, `@orch_agent`) name.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import UserError
from reconciler.home import write_atomic

SCHEDULE_SCRIPT = "schedule_with_note.sh"
SEND_SCRIPT = "send-claude-message.sh"
SCRIPT_MODE = 0o755

_PANE_SUFFIX = re.compile(r"^(.+)\.(\d+)$")

# -- addressing an agent by tmux target ------------------------------------------------------


def split_target(target: str) -> tuple[str, str]:
    """`session:window` -> (session, window). tmux session names never contain ':'."""
    session, sep, window = target.partition(":")
    if not sep or not session or not window:
        raise UserError(f"{target!r} is not a tmux target: write SESSION:WINDOW "
                        "(the window's name or index, e.g. shop-1a2b3c4d:dev or shop-1a2b3c4d:1)")
    return session, window


def match_target(panes, target: str, server: str = "the default tmux server") -> tuple[str, str]:
    """The (project, agent) of the orch agent window that `target` names among observed `panes`.

    The window part is matched as tmux does: as a window index first, then as a window name;
    a trailing pane number (`session:window.0`, as the old scripts sometimes wrote) is ignored
    when nothing matches the whole of it.
    """
    session, window = split_target(target)
    in_session = [p for p in panes if p.session_name == session]
    if not in_session:
        names = sorted({p.session_name for p in panes})
        known = f" (its sessions: {', '.join(names)})" if names else " (no sessions are running)"
        raise UserError(f"{target}: no tmux session {session!r} on {server}{known}")
    matched = _window_panes(in_session, window)
    suffix = _PANE_SUFFIX.match(window)
    if not matched and suffix:
        matched = _window_panes(in_session, suffix.group(1))
    if not matched:
        windows = sorted({(p.window_index, p.window_name) for p in in_session})
        listing = ", ".join(f"{index}:{name}" for index, name in windows)
        raise UserError(f"{target}: session {session!r} has no window {window!r} (its windows: {listing})")
    agents = sorted({(p.project, p.agent) for p in matched if p.project and p.agent})
    if not agents:
        raise UserError(f"{target}: that window is not an orch agent's (it has no @orch_project/@orch_agent "
                        "marks); orch only delivers to agents it runs, see `orch status`")
    if len(agents) > 1:
        both = ", ".join(f"{project}/{agent}" for project, agent in agents)
        raise UserError(f"{target}: ambiguous, several agent windows match ({both}); use the window index")
    return agents[0]


def _window_panes(panes, window: str) -> list:
    by_index = [p for p in panes if str(p.window_index) == window]
    return by_index or [p for p in panes if p.window_name == window]


def resolve_target(ctx, target: str) -> tuple[str, str]:
    """Observe tmux (one `list-panes -a`) and map `session:window` to (project, agent)."""
    from reconciler.runtime.observe import observe

    server = f"tmux server {ctx.socket!r} (tmux -L {ctx.socket})" if ctx.socket else "the default tmux server"
    return match_target(observe(ctx.tmux).panes, target, server)


# -- the scripts -----------------------------------------------------------------------------


def orch_executable() -> str | None:
    """The absolute path of the `orch` that is running, else the one on PATH, else None."""
    candidate = sys.argv[0] if sys.argv else ""
    if candidate and os.path.basename(candidate) == "orch":
        path = candidate if os.sep in candidate else shutil.which(candidate)
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return os.path.abspath(path)
    found = shutil.which("orch")
    return os.path.abspath(found) if found else None


def _find_orch(orch_path: str | None) -> str:
    """Shell lines that set ORCH: the embedded absolute path, or `orch` on PATH as a fallback."""
    if orch_path is None:
        lines = "ORCH=orch\n"
    else:
        if "\n" in orch_path or "\0" in orch_path:
            raise UserError(f"the orch path {orch_path!r} contains a newline; install orch elsewhere")
        lines = (f"ORCH={shlex.quote(orch_path)}\n"
                 'if [ ! -x "$ORCH" ]; then\n'
                 "    ORCH=orch\n"
                 "fi\n")
    return lines + ('if ! command -v "$ORCH" >/dev/null 2>&1; then\n'
                    "    printf '%s\\n' \"$0: cannot find orch (put it on PATH, or run: orch compat install "
                    "$(dirname \"$0\"))\" >&2\n"
                    "    exit 127\n"
                    "fi\n")


def send_script(orch_path: str | None) -> str:
    """send-claude-message.sh session:window MESSAGE... -> orch send --target=... -- MESSAGE..."""
    return f"""#!/bin/sh
# send-claude-message.sh: the Tmux-Orchestrator script, now a thin wrapper over `orch send`.
# Written by `orch compat install`. orch pastes the message, presses Enter separately, checks
# on the agent's screen that it was submitted, and never merges two messages into one line.
#
# Usage: send-claude-message.sh <session:window> <message...>
#   session:window  the agent's tmux target; window is the window's name or index
#   message         every remaining argument, joined by spaces
# ORCH_HOME and ORCH_TMUX_SOCKET are honoured from the environment.

if [ "$#" -lt 2 ]; then
    printf '%s\\n' "Usage: $0 <session:window> <message>" >&2
    printf '%s\\n' "Example: $0 shop-1a2b3c4d:dev 'Hello Claude!'" >&2
    exit 1
fi

{_find_orch(orch_path)}
target=$1
shift
exec "$ORCH" send "--target=$target" -- "$@"
"""


def schedule_script(orch_path: str | None) -> str:
    """schedule_with_note.sh MINUTES NOTE [session:window] -> orch checkin --in=MINUTESm --note=NOTE."""
    return f"""#!/bin/sh
# schedule_with_note.sh: the Tmux-Orchestrator script, now a thin wrapper over `orch checkin`.
# Written by `orch compat install`. The check-in is kept in orch's store (it survives restarts,
# no background sleep) and typed into the agent by `orch reconcile --watch` when it is due.
#
# Usage: schedule_with_note.sh <minutes> "<note>" [session:window]
#   minutes         when, from now; fractions allowed (0.5 = 30 seconds); default 3
#   note            the text typed into the agent when it is due; default "Standard check-in"
#   session:window  the agent's tmux target (window name or index); default: the agent whose
#                   window this runs in (ORCH_PROJECT and ORCH_AGENT)
# ORCH_HOME and ORCH_TMUX_SOCKET are honoured from the environment.

usage() {{
    printf '%s\\n' "Usage: $0 <minutes> \\"<note>\\" [session:window]" >&2
    printf '%s\\n' "Example: $0 30 \\"check the CI run and report to pm\\" shop-1a2b3c4d:dev" >&2
    exit 1
}}

if [ "$#" -gt 3 ]; then
    printf '%s\\n' "$0: too many arguments (quote the note)" >&2
    usage
fi
minutes=${{1:-3}}
note=${{2:-Standard check-in}}
case $minutes in
    ''|.|*[!0-9.]*|*.*.*)
        printf '%s\\n' "$0: minutes must be a number such as 30 or 0.5, not '$minutes'" >&2
        usage
        ;;
esac
case $minutes in .*) minutes=0$minutes ;; esac
case $minutes in *.) minutes=${{minutes}}0 ;; esac

{_find_orch(orch_path)}
if [ -n "${{3:-}}" ]; then
    exec "$ORCH" checkin "--target=$3" "--in=${{minutes}}m" "--note=$note"
fi
if [ -z "${{ORCH_PROJECT:-}}" ] || [ -z "${{ORCH_AGENT:-}}" ]; then
    printf '%s\\n' "$0: no session:window given, and this is not an orch agent's window (ORCH_PROJECT/ORCH_AGENT unset)" >&2
    usage
fi
exec "$ORCH" checkin "--in=${{minutes}}m" "--note=$note"
"""


def scripts(orch_path: str | None) -> dict[str, str]:
    return {SCHEDULE_SCRIPT: schedule_script(orch_path), SEND_SCRIPT: send_script(orch_path)}


# -- writing them ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    path: Path
    status: str  # "created" | "replaced" | "unchanged"


def install(directory: Path, orch_path: str | None, force: bool = False) -> list[Written]:
    """Write the scripts into `directory` (created if missing), mode 0755.

    An existing file with other content is refused unless `force`; nothing is written then.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise UserError(f"{directory} is not a folder")
    texts = scripts(orch_path)
    plan: list[tuple[Path, str, str]] = []
    for name, text in texts.items():
        path = directory / name
        if path.is_symlink() or path.exists():
            if path.is_symlink() or not path.is_file():
                same = False
            else:
                try:
                    same = path.read_text(encoding="utf-8") == text
                except (OSError, UnicodeDecodeError):
                    same = False
            if not same and not force:
                raise UserError(f"{path} exists and differs from what orch would write; "
                                "move it away or add --force to replace it (nothing was written)")
            if not same and path.is_dir() and not path.is_symlink():
                raise UserError(f"{path} is a folder; move it away (nothing was written)")
            plan.append((path, text, "unchanged" if same else "replaced"))
        else:
            plan.append((path, text, "created"))
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for path, text, status in plan:
        if status == "unchanged":
            os.chmod(path, SCRIPT_MODE)
        else:
            write_atomic(path, text, SCRIPT_MODE)
        written.append(Written(path, status))
    return written


