"""The `orch` command line: parse arguments, call the loop, render text or JSON. Nothing else.

Imports are lazy: each command loads only what its path needs, so `orch plan` on a
converged project never imports deepdiff.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

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
        handler = globals()["cmd_" + args.command]
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
    from reconciler.manifest.names import check_name

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


def _context(args: argparse.Namespace, lock_timeout: float = 60.0):
    from reconciler.context import Context

    progress = (lambda message: print(f"  … {message}", file=sys.stderr, flush=True)) if (
        sys.stderr.isatty() and args.output == "text") else (lambda message: None)
    return Context(home=args.home, socket=args.tmux_socket, lock_timeout=lock_timeout, progress=progress)


def _emit(args: argparse.Namespace, document: Any, text: str) -> None:
    if args.output == "json":
        print(json.dumps(document, indent=2))
    else:
        print(text)


def _warn(ctx) -> None:
    from reconciler.state.store import warn

    warn(ctx.notices)


# -- commands -------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    from reconciler.manifest.loader import ManifestError, load_manifest

    results, failed = [], False
    for file in args.files:
        try:
            loaded = load_manifest(file)
            results.append({"file": file, "ok": True, "project": loaded.manifest.metadata.name,
                            "agents": len(loaded.manifest.spec.agents), "errors": []})
        except ManifestError as err:
            failed = True
            results.append({"file": file, "ok": False, "errors": [
                {"line": d.line, "column": d.column, "path": d.path, "message": d.message}
                for d in err.diagnostics]})
            if args.output == "text":
                print(err, file=sys.stderr)
    if args.output == "json":
        print(json.dumps({"manifests": results}, indent=2))
    else:
        for result in results:
            if result["ok"]:
                print(f"{result['file']}: ok (project {result['project']}, {result['agents']} agents)")
    return 1 if failed else 0


def cmd_schema(args: argparse.Namespace) -> int:
    from reconciler.manifest.schema import schema_text

    print(schema_text(), end="")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from reconciler.project import plan_for, plan_from_cache
    from reconciler.manifest.loader import load_manifest
    from reconciler.cli.render import plan_document, plan_text

    ctx = _context(args)
    ctx.show_sensitive = args.show_sensitive
    ctx.adopt = args.adopt
    cached = None if args.adopt else plan_from_cache(ctx, args.file)
    loaded = None if cached else load_manifest(args.file)
    desired, plan = cached or plan_for(ctx, loaded)
    _warn(ctx)
    document, text = plan_document(plan, desired.git and desired.git.upstream), plan_text(plan, desired)
    if loaded is not None and loaded.team is not None:  # which agents came from which template
        from reconciler.teams.cli import team_document, team_lines

        document["team"] = team_document(loaded.team)
        text = "\n".join(team_lines(loaded.team)) + "\n" + text
    _emit(args, document, text)
    if plan.problems:
        return 1
    return 2 if args.detailed_exitcode and plan.actions else 0


def cmd_apply(args: argparse.Namespace) -> int:
    from reconciler.project import converge
    from reconciler.manifest.loader import load_manifest
    from reconciler.cli.render import outcomes_document, outcomes_text

    loaded = load_manifest(args.file)
    ctx = _context(args, args.lock_timeout)
    ctx.adopt = args.adopt
    outcomes = converge(ctx, loaded)
    _warn(ctx)
    name = loaded.manifest.metadata.name
    _emit(args, outcomes_document(name, outcomes), outcomes_text(name, outcomes))
    return 1 if any(not o.ok for o in outcomes) else 0


def cmd_destroy(args: argparse.Namespace) -> int:
    from pathlib import Path

    from reconciler.project import destroy
    from reconciler.cli.render import outcomes_document, outcomes_text

    from reconciler.manifest.names import check_name

    if Path(args.target).is_file():
        from reconciler.manifest.loader import load_manifest

        name = load_manifest(args.target).manifest.metadata.name
    else:
        name = check_name(args.target)
    if not args.yes:
        if not sys.stdin.isatty():
            raise UserError(f"refusing to destroy {name!r} without confirmation: add --yes")
        answer = input(f"Destroy project {name!r}: kill its agents' windows and processes? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing destroyed")
            return 1
    ctx = _context(args, args.lock_timeout)
    outcomes = destroy(ctx, name)
    _warn(ctx)
    _emit(args, outcomes_document(name, outcomes), outcomes_text(name, outcomes, destroyed=True))
    return 1 if any(not o.ok for o in outcomes) else 0


def cmd_status(args: argparse.Namespace) -> int:
    from reconciler.cli.render import status_text
    from reconciler.status import collect_status

    import time

    ctx = _context(args)
    while True:
        document = collect_status(ctx, args.name)
        if args.watch and args.output == "text" and sys.stdout.isatty():
            print("\x1b[H\x1b[2J" + time.strftime("%H:%M:%S") + f"  orch status (every {args.every:g}s, Ctrl-C ends)\n",
                  end="")
        if args.output == "json" and args.watch:
            print(json.dumps(document), flush=True)  # one document a line
        else:
            _emit(args, document, status_text(document))
        if not args.watch:
            return 0
        sys.stdout.flush()
        time.sleep(args.every)


def cmd_send(args: argparse.Namespace) -> int:
    from reconciler.agents import resolve_agent, send_text

    words = list(args.words)
    inside = os.environ.get("ORCH_AGENT") and os.environ.get("ORCH_PROJECT")
    if args.target is not None:
        from reconciler.compat import resolve_target

        address = "/".join(resolve_target(_context(args), args.target))
    elif len(words) == 1 and not inside:
        raise UserError("give the agent and the text: orch send PROJECT/AGENT TEXT")
    else:
        address = None if len(words) == 1 else words.pop(0)
    text = " ".join(words)
    if text == "-":
        text = sys.stdin.read()
    project, agent = resolve_agent(address, args.project)
    ctx = _context(args)
    result = send_text(ctx, project, agent, text, ready_timeout=args.timeout, force=args.force)
    document = {"project": project, "agent": agent, "delivered": result.ok, "reason": result.reason,
                "enters": result.enters}
    if not result.ok:
        nothing = "; nothing was typed" if result.typed_at is None else ""
        raise UserError(f"{project}/{agent}: not delivered: {result.reason}{nothing}")
    _emit(args, document, f"delivered to {project}/{agent}")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from reconciler.agents import recent_output, resolve_agent

    project, agent = resolve_agent(args.agent, args.project)
    ctx = _context(args)
    if args.save:
        from reconciler.agents import save_agent_history

        path = save_agent_history(ctx, project, agent)
        _emit(args, {"project": project, "agent": agent, "path": str(path)}, str(path))
        return 0
    lines = recent_output(ctx, project, agent, args.lines)
    if args.output == "json":
        print(json.dumps({"project": project, "agent": agent, "lines": lines}, indent=2))
    else:
        print(f"── {project}/{agent} " + "─" * max(0, 50 - len(project) - len(agent)))
        print("\n".join(lines))
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    from pathlib import Path

    from reconciler.cli.render import pass_document
    from reconciler.watch import Watcher, reconcile_once

    ctx = _context(args, args.lock_timeout)
    if not args.watch:
        return _print_passes(args, ctx, reconcile_once(ctx, args.files))

    def report(result) -> None:
        for item in pass_document(result)["actions"]:
            if item["result"].startswith("pending"):
                continue
            if args.output == "json":
                print(json.dumps({"project": result.project, **item}), flush=True)
            else:
                print(f"{result.project}: {item['op']} {item['target']}: {'ok' if item['ok'] else 'FAILED'} "
                      f"{item['result']}", flush=True)

    textfile = Path(args.metrics_textfile) if args.metrics_textfile else None
    return Watcher(ctx, args.files, args.interval, report, metrics_textfile=textfile).run()


def cmd_sync(args: argparse.Namespace) -> int:
    from reconciler.project import load_registered
    from reconciler.sync import sync_project

    ctx = _context(args, args.lock_timeout)
    store = ctx.store(maintain=True)
    records = store.projects()
    if args.name is not None:
        records = [r for r in records if r.name == args.name]
        if not records:
            raise UserError(f"no project named {args.name!r} (see `orch status`)")
    loaded = [m for m in (load_registered(store, r) for r in records) if m is not None]
    return _print_passes(args, ctx, [sync_project(ctx, m) for m in loaded])


def _print_passes(args: argparse.Namespace, ctx, results: list) -> int:
    """What one pass over each project did; exit 1 when anything failed."""
    from reconciler.cli.render import outcomes_text, pass_document

    _warn(ctx)
    if args.output == "json":
        print(json.dumps({"projects": [pass_document(r) for r in results]}, indent=2))
    else:
        print("\n".join(outcomes_text(r.project, r.outcomes) for r in results) or "no projects registered")
    return 1 if any(not o.ok for r in results for o in r.outcomes) else 0


def cmd_checkin(args: argparse.Namespace) -> int:
    from reconciler.scheduling import cancel_checkin, list_checkins, schedule_checkin

    ctx = _context(args)
    if args.list:
        document, text = list_checkins(ctx, args.project)
        _emit(args, document, text)
        return 0
    if args.cancel is not None:
        document, text = cancel_checkin(ctx, args.cancel)
        _emit(args, document, text)
        return 0
    if not args.delay or args.note is None:
        raise UserError("say when and what: orch checkin [AGENT] --in 25m --note \"...\" (or --list, --cancel ID)")
    agent = args.agent
    if args.target is not None:
        from reconciler.compat import resolve_target

        if agent is not None:
            raise UserError("give the agent either as AGENT or as --target SESSION:WINDOW, not both")
        agent = "/".join(resolve_target(ctx, args.target))
    document, text = schedule_checkin(ctx, agent, args.project, args.delay, args.note)
    _emit(args, document, text)
    return 0


def cmd_credit(args: argparse.Namespace) -> int:
    from reconciler.scheduling import credit_clear, credit_hold

    ctx = _context(args)
    if args.credit_command == "clear":
        document, text = credit_clear(ctx, args.agent, args.project)
    else:
        document, text = credit_hold(ctx, args.agent, args.project, args.until)
    _emit(args, document, text)
    return 0


def cmd_team(args: argparse.Namespace) -> int:
    from reconciler.teams.cli import run_team

    return run_team(args, lambda document, text: _emit(args, document, text))


def cmd_init(args: argparse.Namespace) -> int:
    from reconciler.teams.cli import run_init

    return run_init(args, lambda document, text: _emit(args, document, text))


def cmd_compat(args: argparse.Namespace) -> int:
    from pathlib import Path

    from reconciler.compat import install, orch_executable

    orch_path = orch_executable()
    written = install(Path(args.dir).expanduser().absolute(), orch_path, force=args.force)
    lines = [f"{w.status:<9} {w.path}" for w in written]
    lines.append(f"they run {orch_path}" if orch_path else "they run `orch` from PATH")
    _emit(args, {"orch": orch_path, "files": [{"path": str(w.path), "status": w.status} for w in written]},
          "\n".join(lines))
    return 0


def cmd_service(args: argparse.Namespace) -> int:
    from pathlib import Path

    from reconciler import service
    from reconciler.compat import orch_executable

    path = service.unit_path()
    if args.service_command == "uninstall":
        change = service.uninstall(path)
        lines = [f"removed {change.path}" if change.status == "removed" else f"no unit at {change.path}"]
        lines += [f"removed {link} (the link `systemctl --user enable` made)" for link in change.also_removed]
        lines += ["stop a running watcher and let systemd forget the unit:", f"  {service.STOP_COMMAND}"]
        _emit(args, {"path": str(path), "status": change.status, "commands": [service.STOP_COMMAND],
                     "removed_links": [str(link) for link in change.also_removed]}, "\n".join(lines))
        return 0
    orch_path = orch_executable()
    if orch_path is None:
        raise UserError("cannot find the orch executable to run; put orch on PATH and run this again")
    environment = {}
    if "ORCH_HOME" in os.environ or args.home != Path.home() / ".local" / "state" / "orch":
        environment["ORCH_HOME"] = str(args.home)  # set, by --home, or by XDG_STATE_HOME systemd may lack
    if args.tmux_socket:
        environment["ORCH_TMUX_SOCKET"] = args.tmux_socket
    if os.environ.get("PATH"):
        environment["PATH"] = os.environ["PATH"]
    text = service.unit_text(orch_path, environment)
    if args.print_only:
        _emit(args, {"path": str(path), "unit": text}, text.rstrip("\n"))
        return 0
    change = service.install(path, text)
    commands = [service.ENABLE_COMMAND, service.LINGER_COMMAND]
    lines = [f"{change.status} {path}", "enable and start it:", f"  {service.ENABLE_COMMAND}",
             "keep it running when you are logged out:", f"  {service.LINGER_COMMAND}"]
    if change.status == "updated":
        lines += ["if it already runs, restart it:", f"  {service.RESTART_COMMAND}"]
        commands.append(service.RESTART_COMMAND)
    _emit(args, {"path": str(path), "status": change.status, "unit": text, "commands": commands}, "\n".join(lines))
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    from reconciler.cli.render import event_line

    ctx = _context(args)
    store = ctx.store()
    kinds = tuple(kind for value in args.kind for kind in value.split(",") if kind)
    events = store.events(args.name, limit=args.limit, agent=args.agent, kinds=kinds)
    for event in events:
        print(json.dumps(event.as_json()) if args.output == "json" else event_line(event), flush=True)
    if args.follow:
        newest = store.events(args.name, limit=1)  # follow from now, whatever the filter matched
        for event in store.follow_events(args.name, newest[-1].id if newest else 0, agent=args.agent, kinds=kinds):
            print(json.dumps(event.as_json()) if args.output == "json" else event_line(event), flush=True)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from reconciler import importer

    windows = importer.read_session(_context(args).tmux, args.session)
    text = importer.manifest_text(args.session, windows)
    if args.file == "-":
        sys.stdout.write(text)
        return 0
    path = Path(args.file)
    importer.write_manifest(path, text, args.force)
    _emit(args, {"path": str(path.resolve()), "session": args.session, "agents": len(windows)},
          f"wrote {path} ({len(windows)} agent(s) from session {args.session!r}); "
          f"check it, then: orch apply {path} --adopt")
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from reconciler import metrics
    from reconciler.manifest.durations import parse_duration

    since = None
    if args.since:
        try:
            since = time.time() - parse_duration(args.since)
        except ValueError as err:
            raise UserError(f"--since: {err}") from None
    document = metrics.collect_metrics(_context(args), args.name, since)
    if args.textfile:
        metrics.write_textfile(Path(args.textfile), metrics.prometheus(document))
    if args.output == "prometheus":
        sys.stdout.write(metrics.prometheus(document))
    else:
        _emit(args, document, metrics.text(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
