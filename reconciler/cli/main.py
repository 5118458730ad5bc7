"""The `orch` command line: parse arguments, hand them to a command (cli/commands.py), say errors.

Imports are lazy: each command loads only what its path needs, so `orch plan` on a
converged project never imports deepdiff.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from reconciler.cli import commands
from reconciler.errors import UserError

EXAMPLES = """\
examples:
  orch init                               a starter manifest whose team fits this repository
  orch validate orch.yaml                 check a manifest, every mistake with file:line:col
  orch plan orch.yaml                     what apply would change (+ add, ~ change, -/+ replace, - destroy)
  orch apply orch.yaml                    converge tmux to the manifest once
  orch reconcile --watch                  keep converging: restarts, check-ins, credit holds
  orch status                             every project and agent; -o json for scripts
  orch checkin --in 25m --note "..."      (inside an agent) a one-off check-in for yourself
  orch send shop/dev "run the tests"      type a message into an agent and check it was submitted
  orch logs shop/dev                      the last lines the agent's pane shows
  orch events shop --follow               the audit log, as it grows
  orch destroy shop --yes                 kill the project's agents (worktrees with work are kept)

environment:
  ORCH_HOME          where orch keeps its state (default $XDG_STATE_HOME/orch or ~/.local/state/orch)
  ORCH_TMUX_SOCKET   tmux server to use (tmux -L NAME); default: your default tmux server
"""


def _common(outputs: tuple[str, ...] = ("text", "json")) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS, metavar="DIR",
                        help="orch's state folder (env ORCH_HOME)")
    common.add_argument("--tmux-socket", default=argparse.SUPPRESS, metavar="NAME",
                        help="tmux server socket name, as tmux -L (env ORCH_TMUX_SOCKET)")
    common.add_argument("-o", "--output", choices=outputs, default=argparse.SUPPRESS,
                        help="output format (default text)")
    return common


def _agent_arguments(parser: argparse.ArgumentParser) -> None:
    """AGENT as project/agent, or agent with -p PROJECT, or nothing inside an agent's window."""
    parser.add_argument("agent", nargs="?", metavar="AGENT")
    parser.add_argument("-p", "--project", metavar="PROJECT")


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="orch", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
        description="orch keeps teams of AI coding agents running in tmux, declaratively.",
        epilog=EXAMPLES,
    )
    parser.add_argument("--version", action="version", version="orch 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help: str, epilog: str = "") -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], help=help, description=help, epilog=epilog,
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    p = command("validate", "check manifests; exit 1 with file:line:col lines for every mistake",
                "example:\n  orch validate orch.yaml other.yaml")
    p.add_argument("files", nargs="+", metavar="FILE")

    p = command("plan", "show the actions apply would take, and why",
                "exit codes: 0 ok (with --detailed-exitcode: nothing to do), 1 error, 2 changes\n"
                "example:\n  orch plan orch.yaml --detailed-exitcode")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when there are changes")
    p.add_argument("--show-sensitive", action="store_true", help="show old and new env values (hidden by default)")
    p.add_argument("--adopt", action="store_true", help="show what `apply --adopt` would take over")

    p = command("apply", "converge tmux to the manifest once and register the project",
                "examples:\n  orch apply examples/quickstart/orch.yaml\n"
                "  orch import my-team && orch apply orch.yaml --adopt   take over a session started by hand")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--adopt", action="store_true",
                   help="take over a session of the manifest's name that orch did not create: its windows\n"
                        "named after agents (or their roles) are marked and kept running, never restarted")
    p.add_argument("--allow-restart", action="store_true",
                   help="replace a live agent whose spec changed even while it reports being busy (working,\n"
                        "blocked, limited, starting); without it that waits until the agent is idle")
    p.add_argument("--lock-timeout", type=float, default=60.0, metavar="S",
                   help="seconds to wait for another orch working on the project (default 60)")

    p = command("reconcile", "converge once (windows, briefs, due check-ins), or keep converging with --watch",
                "With no FILE: every registered project. The watcher sleeps until the next due check-in,\n"
                "a wake-up (orch checkin, a dead agent) or --interval, whichever comes first.\n"
                "examples:\n  orch reconcile                 once, every project\n"
                "  orch reconcile --watch         keep converging (run it as a service: orch service install)\n"
                "  orch reconcile shop.yaml --watch --interval 10")
    p.add_argument("files", nargs="*", metavar="FILE")
    p.add_argument("--watch", action="store_true", help="keep converging until SIGTERM/SIGINT")
    p.add_argument("--interval", type=float, default=30.0, metavar="S",
                   help="full resync at least this often in watch mode (default 30)")
    p.add_argument("--metrics-textfile", metavar="PATH",
                   help="with --watch: keep `orch metrics` in Prometheus text format at PATH (every 15 s)")
    p.add_argument("--lock-timeout", type=float, default=60.0, metavar="S")

    p = command("checkin", "schedule a one-off check-in for an agent, list or cancel check-ins",
                "Inside an agent's window no AGENT is needed: the check-in is for the agent itself.\n"
                "examples:\n  orch checkin --in 25m --note \"check the CI run and report to pm\"\n"
                "  orch checkin shop/dev --in 2h --note \"rebase onto main\"\n"
                "  orch checkin --list\n  orch checkin --cancel 12")
    _agent_arguments(p)
    p.add_argument("--in", dest="delay", metavar="DUR", help="when: 90s, 25m, 2h, 1d (fractions like 0.5m allowed)")
    p.add_argument("--note", metavar="TEXT", help="the text delivered to the agent")
    p.add_argument("--list", action="store_true", help="list scheduled check-ins")
    p.add_argument("--cancel", type=int, metavar="ID", help="cancel a scheduled check-in")
    p.add_argument("--target", metavar="SESSION:WINDOW",
                   help="address the agent by tmux target, for the old scripts (window name or index)")

    p = command("credit", "manual overrides for out-of-credit holds",
                "examples:\n  orch credit clear shop/dev                 a false positive: deliver again now\n"
                "  orch credit hold shop/dev --until 17:30    a limit orch cannot see\n"
                "  orch credit hold shop/dev --until 2h")
    credit = p.add_subparsers(dest="credit_command", metavar="ACTION", required=True)
    c = credit.add_parser("clear", parents=[common], help="end an agent's hold now")
    _agent_arguments(c)
    c = credit.add_parser("hold", parents=[common], help="hold messages to an agent until a time")
    _agent_arguments(c)
    c.add_argument("--until", required=True, metavar="TIME", help="HH:MM (next occurrence), an ISO time, or a duration like 2h")

    p = command("sync", "bring the projects' clean worktrees up to upstream now",
                "Dirty worktrees are skipped; a conflict is aborted and escalated (once per upstream commit).\n"
                "examples:\n  orch sync          every registered project\n  orch sync shop")
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--lock-timeout", type=float, default=60.0, metavar="S")

    p = command("destroy", "kill the project's agents and forget its schedules",
                "example:\n  orch destroy shop --yes")
    p.add_argument("target", metavar="FILE|NAME")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument("--lock-timeout", type=float, default=60.0, metavar="S")

    p = command("status", "projects, agents, liveness, check-ins, credit and worktrees",
                "examples:\n  orch status\n  orch status shop -o json\n  orch status --watch")
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--watch", "-w", action="store_true", help="redraw every --every seconds until Ctrl-C")
    p.add_argument("--every", type=float, default=2.0, metavar="S", help="refresh period with --watch (default 2)")

    p = command("send", "deliver a message to an agent and verify it was submitted",
                "AGENT is project/agent, or agent with -p PROJECT, or nothing inside an agent's window\n"
                "(then the text is the only argument). TEXT '-' reads the message from stdin.\n"
                "examples:\n  orch send shop/dev \"please rebase and run the tests\"\n"
                "  orch send -p shop dev - < note.txt")
    p.add_argument("words", nargs="+", metavar="[AGENT] TEXT")
    p.add_argument("-p", "--project", metavar="PROJECT")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S",
                   help="how long to wait for the agent's input line to be free (default 30)")
    p.add_argument("--force", action="store_true", help="deliver even while the agent is out of credit")
    p.add_argument("--target", metavar="SESSION:WINDOW",
                   help="address the agent by tmux target, for the old scripts (window name or index); "
                        "then every word is the text")

    p = command("events", "print the audit log (one JSON object a line with -o json)",
                "With no NAME: every project's events (and orch's own), in order.\n"
                "examples:\n  orch events shop\n  orch events --follow -o json\n"
                "  orch events shop --agent dev --kind checkin --kind agent.restarted")
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--agent", metavar="AGENT", help="only this agent's events")
    p.add_argument("--kind", action="append", default=[], metavar="KIND",
                   help="only events of this kind (agent.restarted) or family (sync); repeatable")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    p.add_argument("--limit", "-n", type=int, default=50, metavar="N", help="last N events (default 50)")

    p = command("logs", "print the last lines an agent's pane shows",
                "The watcher also saves a dead agent's history before restarting it (see `orch events`).\n"
                "examples:\n  orch logs shop/dev\n  orch logs -p shop dev --lines 100\n  orch logs shop/dev --save")
    _agent_arguments(p)
    p.add_argument("--lines", "-n", type=int, default=30, metavar="N", help="how many lines (default 30)")
    p.add_argument("--save", action="store_true",
                   help="keep the pane's whole history in a file under the project folder; print its path")

    p = command("compat", "compatibility with the Tmux-Orchestrator scripts",
                "`install DIR` writes schedule_with_note.sh and send-claude-message.sh into DIR (0755): thin\n"
                "wrappers that exec this orch (orch checkin / orch send), addressing agents by session:window.\n"
                "examples:\n  orch compat install ~/Tmux-Orchestrator\n"
                "  ~/Tmux-Orchestrator/send-claude-message.sh shop-1a2b3c4d:dev \"run the tests\"\n"
                "  ~/Tmux-Orchestrator/schedule_with_note.sh 30 \"check the CI run\" shop-1a2b3c4d:pm\n"
                "  (inside an agent's window the target may be left out: the check-in is for itself)")
    compat = p.add_subparsers(dest="compat_command", metavar="ACTION", required=True)
    c = compat.add_parser("install", parents=[common], help="write the old scripts into DIR")
    c.add_argument("dir", metavar="DIR")
    c.add_argument("--force", action="store_true", help="replace existing files that differ")

    service_epilog = ("`install` writes $XDG_CONFIG_HOME/systemd/user/orch-watch.service (default ~/.config/...)\n"
                      "that runs this orch's absolute path with `reconcile --watch`, Restart=always, and ORCH_HOME,\n"
                      "ORCH_TMUX_SOCKET and PATH as they are now (agents' commands are looked up on PATH). Then:\n"
                      "  systemctl --user daemon-reload && systemctl --user enable --now orch-watch.service\n"
                      "  loginctl enable-linger $USER        keep it running when you are logged out\n"
                      "To remove it: systemctl --user disable --now orch-watch.service && orch service uninstall\n"
                      "Without systemd, run the watcher in a tmux window instead:\n"
                      "  tmux new-window -d -n orch-watch 'orch reconcile --watch'\n"
                      "examples:\n  orch service install --print\n  orch service install\n  orch service uninstall")
    p = command("service", "run the watcher (orch reconcile --watch) as a systemd user service (orch-watch.service)",
                service_epilog)
    service = p.add_subparsers(dest="service_command", metavar="ACTION", required=True)
    c = service.add_parser("install", parents=[common], help="write the unit file and say how to enable it",
                           description="write the unit file and say how to enable it", epilog=service_epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("--print", dest="print_only", action="store_true", help="print the unit instead of writing it")
    service.add_parser("uninstall", parents=[common], help="remove the unit file and its enable link")

    p = command("import", "write a manifest for a tmux session started by hand or by the old scripts",
                "One agent per window: name, command and folder read from tmux (and /proc for an agent\n"
                "typed into a shell). Then `orch apply FILE --adopt` takes the windows over without\n"
                "restarting them.\n"
                "examples:\n  orch import my-team                   writes ./orch.yaml\n"
                "  orch import my-team --file - | less   print it instead")
    p.add_argument("session", metavar="SESSION")
    p.add_argument("--file", default="orch.yaml", metavar="PATH", help="where to write it ('-': stdout)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")

    p = sub.add_parser(
        "metrics", parents=[_common(("text", "json", "prometheus"))],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="check-in reliability and lateness, sync latency, restarts, credit holds, capacity",
        description="The improvement spec's metrics, computed from the ledger and the event log.",
        epilog="examples:\n  orch metrics                       every project, for a terminal\n"
               "  orch metrics shop --since 24h -o json\n"
               "  orch metrics --textfile /var/lib/node_exporter/textfile/orch.prom   (for node_exporter)")
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--since", metavar="DUR", help="only what happened in the last DUR (90s, 25m, 2h, 7d)")
    p.add_argument("--textfile", metavar="PATH",
                   help="also write the Prometheus text format to PATH, atomically")

    command("schema", "print the manifest's JSON Schema")
    p = command("hook", "(inside an agent) report one of its hook events, JSON on stdin, to orch; always exits 0")
    p.add_argument("event", metavar="EVENT", help="the hook's event name, e.g. UserPromptSubmit")
    from reconciler.teams.cli import add_commands as add_team_commands

    add_team_commands(command, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from reconciler.home import resolve_home

    args.output = getattr(args, "output", "text")
    args.home = resolve_home(getattr(args, "home", None))
    args.tmux_socket = getattr(args, "tmux_socket", None) or os.environ.get("ORCH_TMUX_SOCKET") or None
    try:
        _check_names(args)
        handler = getattr(commands, "cmd_" + args.command)
        return handler(args)
    except UserError as err:
        _error(args, str(err), getattr(err, "exit_code", 1))
        return getattr(err, "exit_code", 1)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as err:  # a bug, not a user error: say so briefly; ORCH_DEBUG=1 shows the traceback
        if os.environ.get("ORCH_DEBUG"):
            raise
        _error(args, f"internal error: {type(err).__name__}: {err} (run again with ORCH_DEBUG=1 for details, "
                     "and please report it)", 1)
        return 1


def _check_names(args: argparse.Namespace) -> None:
    """Every project name given on the command line is checked before any command touches disk."""
    from reconciler.names import check_name

    if getattr(args, "project", None) is not None:
        check_name(args.project)
    if args.command in ("status", "events", "sync") and args.name is not None:
        check_name(args.name)


def _error(args: argparse.Namespace, message: str, code: int) -> None:
    if args.output == "json":
        print(json.dumps({"error": message, "exit_code": code}))
    else:
        for line in message.splitlines():
            print(f"orch: error: {line}" if not line.startswith(("/", ".")) else line, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
