"""The `orch` commands: each calls one use case and renders its result as text or JSON.

Imports inside the commands are lazy on purpose (start-up time): each command loads only what its
path needs, so `orch plan` on a converged project never imports pydantic, ruamel.yaml or deepdiff.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Any

from reconciler.errors import UserError


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


def cmd_hook(args: argparse.Namespace) -> int:
    """What the hooks orch gives Claude Code run (they call reconciler/hook.py directly, faster)."""
    from reconciler.hook import main as hook_main

    project, agent = os.environ.get("ORCH_PROJECT", ""), os.environ.get("ORCH_AGENT", "")
    names_ok = all(re.fullmatch(r"[a-z0-9][a-z0-9-]*", name) for name in (project, agent))
    found = sorted(args.home.glob(f"projects/{project}-*/agents/{agent}/events.jsonl")) if names_ok else []
    if len(found) == 1:
        hook_main(["hook", args.event, str(found[0]), str(args.home / "run")])
    return 0


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
    desired, plan = cached or plan_for(ctx, loaded)  # type: ignore[arg-type]  # loaded when not cached
    _warn(ctx)
    document, text = plan_document(plan, desired.git.upstream if desired.git else None), plan_text(plan, desired)
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
    ctx.allow_restart = args.allow_restart
    outcomes = converge(ctx, loaded)
    _warn(ctx)
    name = loaded.manifest.metadata.name
    _emit(args, outcomes_document(name, outcomes), outcomes_text(name, outcomes))
    return 1 if any(not o.ok for o in outcomes) else 0


def cmd_destroy(args: argparse.Namespace) -> int:
    from pathlib import Path

    from reconciler.project import destroy
    from reconciler.cli.render import outcomes_document, outcomes_text

    from reconciler.names import check_name

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

        address: str | None = "/".join(resolve_target(_context(args), args.target))
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
    # The newest event first: what is printed ends there and following starts after it, so an event
    # written meanwhile is printed once, by the follow, whatever the filter matched.
    newest = store.events(args.name, limit=1)
    until = newest[-1].id if newest else 0
    events = [e for e in store.events(args.name, limit=args.limit, agent=args.agent, kinds=kinds) if e.id <= until]
    for event in events:
        print(json.dumps(event.as_json()) if args.output == "json" else event_line(event), flush=True)
    if args.follow:
        for event in store.follow_events(args.name, until, agent=args.agent, kinds=kinds):
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
