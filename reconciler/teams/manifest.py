"""`spec.team` in a manifest: resolve the template (or detect it), and fold its roles into spec.agents.

Called by the manifest loader after the document itself validated. Errors come back as
(loc, message) pairs at the manifest's fields, or as the template files' own diagnostics.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reconciler.teams.compose import Origin, manager_agent, merge_agents, placeholder_values, substitute, team_agents


@dataclass(frozen=True)
class TeamInfo:
    """What `orch plan` shows about the team: the template, how it was chosen, each agent's origin."""
    template: str
    chain: tuple[str, ...]
    chosen_by: str  # "manifest" or the detection's one-line summary
    origins: tuple[Origin, ...]
    notes: tuple[str, ...] = field(default=())  # e.g. how to enable refinement
    digest: str = ""  # changes when anything the team came from changes
    written_index: tuple[int | None, ...] = ()  # each agent's index in the manifest's own list


Problems = list[tuple[tuple[str | int, ...], str]]


def compose_manifest(manifest: Any, folder: Path) -> tuple[Any, TeamInfo | None, Problems, list]:
    """(manifest with the team's agents, team info, problems at manifest fields, template diagnostics)."""
    from reconciler.manifest.models import Agent
    from reconciler.teams.templates import TemplateError, resolve, search_path

    spec = manifest.spec
    team = spec.team
    if team is None or team.template is None:
        return manifest, None, [], []
    templates_dir = (folder / Path(team.templates_dir).expanduser()).resolve() if team.templates_dir else None
    folders = search_path(templates_dir)
    repo = (folder / Path(spec.repo).expanduser()).resolve() if spec.repo else None
    notes: list[str] = []
    chosen_by = "named in spec.team.template"
    extra_roles: tuple = ()
    try:
        if team.template == "auto":
            from reconciler.teams.detect import choose_team, detect

            result = detect(repo or folder, folders)
            template, extra_roles, chosen_by = choose_team(result, folders)
        else:
            template = resolve(team.template, folders)
        if team.refine:
            from reconciler.teams.refine import refine_team

            template, note = refine_team(template, repo or folder, folders, model=team.model)
            if note:
                notes.append(note)
        if team.add_roles:
            extra_roles, problems = _added_roles(team.add_roles, template, extra_roles, folders)
            if problems:
                return manifest, None, problems, []
    except TemplateError as err:
        if err.diagnostics and err.diagnostics[0].file == team.template:  # the name itself is unknown
            return manifest, None, [(("spec", "team", "template"), err.diagnostics[0].message)], []
        return manifest, None, [(("spec", "team", "template"),
                                 f"template {team.template!r} is invalid (see below)")], err.diagnostics

    composed, origins = team_agents(template, extra_roles)
    written = [agent.model_dump(exclude_unset=True) for agent in spec.agents]
    agents, merged_origins, written_index = merge_agents(composed, origins, written)
    manager = manager_agent(template, agents)
    names = [agent["name"] for agent in agents]
    upstream = spec.upstream or (_current_branch(repo) if repo else None) or "the upstream branch"
    problems = []
    for index, agent in enumerate(agents):
        if merged_origins[index] is None:
            continue  # the manifest's own agent: its text is the user's, taken literally
        values = placeholder_values(agent, manager, names, manifest.metadata.name, upstream)
        for key in ("brief",):
            if agent.get(key):
                agent[key], unknown = substitute(agent[key], values)
                for word in unknown:
                    problems.append((_loc(written_index[index], key),
                                     f"agent {agent['name']!r}: unresolved placeholder {word}"))
        for number, checkin in enumerate(agent.get("checkins") or []):
            checkin["note"], unknown = substitute(checkin["note"], values)
            for word in unknown:
                problems.append((_loc(written_index[index], "checkins", number, "note"),
                                 f"agent {agent['name']!r}: unresolved placeholder {word}"))
    models = [Agent.model_validate(agent) for agent in agents]
    updates: dict[str, Any] = {"agents": models}
    if spec.sync.escalate_to is None and manager in names:
        updates["sync"] = spec.sync.model_copy(update={"escalate_to": manager})
    info = TeamInfo(template=template.name, chain=template.chain, chosen_by=chosen_by,
                    origins=tuple(o for o in merged_origins if o is not None), notes=tuple(notes),
                    digest=_digest(agents, template.chain), written_index=tuple(written_index))
    new_spec = spec.model_copy(update=updates)
    return manifest.model_copy(update={"spec": new_spec}), info, problems, []


def _added_roles(names: list[str], template, extra_roles: tuple, folders) -> tuple[tuple, Problems]:
    """spec.team.add_roles as roles (from whichever template defines them), or errors at each name."""
    from reconciler.teams.refine import registry

    roles = registry(folders)
    have = {role.name for role in template.roles + extra_roles}
    added = list(extra_roles)
    problems: Problems = []
    for index, name in enumerate(names):
        if name not in roles:
            problems.append((("spec", "team", "add_roles", index),
                             f"{name!r} is not a role of any template (see `orch team show NAME`)"))
        elif name not in have:
            added.append(replace(roles[name], count=1))  # one agent of each added role
            have.add(name)
    return tuple(added), problems


def _loc(written: int | None, *rest: str | int) -> tuple[str | int, ...]:
    return ("spec", "agents", written, *rest) if written is not None else ("spec", "team", "template")


def _digest(agents: list[dict[str, Any]], chain: tuple[str, ...]) -> str:
    canonical = json.dumps({"agents": agents, "chain": chain}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _current_branch(repo: Path) -> str | None:
    try:
        result = subprocess.run(["git", "-C", str(repo), "symbolic-ref", "--quiet", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None
