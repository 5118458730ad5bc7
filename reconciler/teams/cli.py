"""The `orch team ...` and `orch init` commands: their arguments and how their results are shown.

Kept out of reconciler/cli/ so that the parser only gains two hooks; imports stay lazy (argparse
only at parser-building time) so every other command starts as fast as before.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_commands(command, common: argparse.ArgumentParser) -> None:
    p = command("team", "team templates: detect a repository's type, show or list templates",
                "examples:\n  orch team detect .                 type, template, confidence, runner-up, evidence\n"
                "  orch team detect . -o json\n  orch team show code_project       a template with its chain merged\n"
                "  orch team list                     every template and where it comes from\n"
                "User templates in ORCH_TEMPLATES (or --templates-dir, or spec.team.templates_dir) shadow\n"
                "the built-in ones by name.")
    team = p.add_subparsers(dest="team_command", metavar="ACTION", required=True)
    c = team.add_parser("detect", parents=[common], help="the project type of DIR, with the evidence")
    c.add_argument("dir", metavar="DIR")
    c.add_argument("--refine", action="store_true", help="let a model adjust the roles (orch[ai] and a key)")
    c.add_argument("--model", metavar="MODEL", help="the model to ask (default: ORCH_AI_MODEL)")
    c.add_argument("--templates-dir", metavar="DIR", help="your templates, searched first")
    c = team.add_parser("show", parents=[common], help="a template, resolved (its whole chain merged)")
    c.add_argument("name", metavar="NAME")
    c.add_argument("--templates-dir", metavar="DIR", help="your templates, searched first")
    c = team.add_parser("list", parents=[common], help="every template and where it comes from")
    c.add_argument("--templates-dir", metavar="DIR", help="your templates, searched first")

    p = command("init", "write a starter manifest for the repository in DIR, from its detected team",
                "Never overwrites an existing file without --force. What it writes validates and applies as is.\n"
                "examples:\n  orch init                          ./orch.yaml for the current folder\n"
                "  orch init ../shop --file shop.yaml\n  orch init --command orch-toyagent   try it with the bundled toy agent")
    p.add_argument("dir", nargs="?", default=".", metavar="DIR")
    p.add_argument("--file", metavar="PATH", help="where to write the manifest (default DIR/orch.yaml)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument("--command", dest="agent_command", metavar="CMD",
                   help="the agents' program (default: claude --dangerously-skip-permissions)")


def _folders(args):
    from reconciler.teams.templates import search_path

    folder = getattr(args, "templates_dir", None)
    return search_path(Path(folder).expanduser().resolve() if folder else None)


def run_team(args, emit) -> int:
    from reconciler.teams.templates import available, resolve

    folders = _folders(args)
    if args.team_command == "detect":
        return _detect(args, folders, emit)
    if args.team_command == "show":
        template = resolve(args.name, folders)
        emit(template_document(template), template_text(template))
        return 0
    rows: list[dict[str, Any]] = []
    for name, origin, file in available(folders):
        try:
            template = resolve(name, folders)
            rows.append({"name": name, "type": template.type, "from": origin, "file": str(file),
                         "chain": list(template.chain), "description": template.description, "error": None})
        except Exception as err:  # a broken template is listed with its first error, not hidden
            rows.append({"name": name, "type": None, "from": origin, "file": str(file), "chain": [name],
                         "description": "", "error": str(err).splitlines()[0]})
    lines = [f"{'NAME':<20} {'TYPE':<15} {'FROM':<24} CHAIN"]
    for row in rows:
        lines.append(f"{row['name']:<20} {row['type'] or '-':<15} {row['from']:<24} "
                     + (" -> ".join(row["chain"]) if not row["error"] else f"error: {row['error']}"))
    emit({"templates": rows}, "\n".join(lines))
    return 0


def _detect(args, folders, emit) -> int:
    from reconciler.errors import UserError
    from reconciler.teams.detect import choose_team, detect

    root = Path(args.dir).expanduser().resolve()
    if not root.is_dir():
        raise UserError(f"{args.dir} is not a folder")
    detection = detect(root, folders)
    document = detection.as_dict()
    text = detection_text(detection)
    if detection.template is not None:
        template, extra, summary = choose_team(detection, folders)
        if detection.ambiguous and extra:
            text += f"\nambiguous: the team adds the runner-up's distinctive roles: {', '.join(r.name for r in extra)}"
        document["team"] = [role.name for role in template.roles + extra]
        if args.refine:
            from reconciler.teams.refine import refine_team

            refined, note = refine_team(template, root, folders, model=args.model)
            document["refined"] = {"roles": [{"name": r.name, "count": r.count} for r in refined.roles], "note": note}
            text += f"\n{note}" if note else ""
    emit(document, text)
    return 0


def detection_text(detection) -> str:
    runner = (f"{detection.runner_up} ({detection.runner_up_template or 'no template'}, "
              f"{detection.scores.get(detection.runner_up, 0):.1f} points)" if detection.runner_up else "none")
    excluded = ", ".join(f"{n} {k}" for k, n in sorted(detection.excluded.items())) or "nothing"
    lines = [f"type        {detection.type}", f"template    {detection.template or '(none serves this type)'}",
             f"confidence  {detection.confidence:.2f}", f"runner-up   {runner}",
             f"files       {detection.files_scored} scored of {detection.files_total} ({detection.source}); "
             f"left out: {excluded}", "evidence:"]
    for item in detection.evidence:
        example = f"  e.g. {', '.join(item.files)}" if item.files else ""
        lines.append(f"  {item.type:<14} {item.points:+6.2f}  {item.signal} [{item.count}]{example}")
    return "\n".join(lines)


def template_document(template) -> dict:
    return {"name": template.name, "type": template.type, "chain": list(template.chain),
            "manager": template.manager, "description": template.description, "file": template.path,
            "roles": [{"name": r.name, "brief": r.brief, "count": r.count, "worktree": r.worktree,
                       "checkins": [{"every": every, "note": note} for every, note in r.checkins],
                       "description": r.description, "from": r.source, "where": r.where} for r in template.roles]}


def template_text(template) -> str:
    lines = [f"template {template.name} (type {template.type or '-'}; chain {' -> '.join(template.chain)}; "
             f"manager {template.manager or '-'})", template.description, ""]
    for role in template.roles:
        checkins = "; ".join(f"every {every}: {note}" for every, note in role.checkins) or "none (schedules its own)"
        lines += [f"{role.name}  x{role.count}  worktree: {'yes' if role.worktree else 'no'}  "
                  f"from {role.source} ({role.where})", f"  check-ins: {checkins}"]
        lines += [f"  {line}" for line in role.brief.rstrip().splitlines()]
        lines.append("")
    return "\n".join(lines).rstrip()


def run_init(args, emit) -> int:
    from reconciler.teams.init import DEFAULT_COMMAND, write_starter

    path, text = write_starter(Path(args.dir), Path(args.file) if args.file else None, args.force,
                               args.agent_command or DEFAULT_COMMAND)
    emit({"file": str(path), "manifest": text},
         f"wrote {path}\nnext: orch validate {path}   then   orch plan {path}   then   orch apply {path}")
    return 0


def team_lines(team) -> list[str]:
    """For `orch plan`: how the team was chosen and where each agent came from."""
    lines = [f"team: template {team.template} ({' -> '.join(team.chain)}); {team.chosen_by}"]
    for origin in team.origins:
        changed = f", manifest sets {', '.join(origin.overridden)}" if origin.overridden else ""
        lines.append(f"  {origin.agent:<20} role {origin.role} from {origin.template} ({origin.where}){changed}")
    lines += [f"  note: {note}" for note in team.notes]
    return lines


def team_document(team) -> dict:
    return {"template": team.template, "chain": list(team.chain), "chosen_by": team.chosen_by,
            "notes": list(team.notes),
            "agents": [{"name": o.agent, "role": o.role, "template": o.template, "where": o.where,
                        "overridden": list(o.overridden)} for o in team.origins]}

