"""Turn a resolved team template into manifest agents, and merge the manifest's own agents over them.

Pure: a Template and a few names in, plain agent dictionaries (the manifest's `Agent` shape)
and their origins out. The loader validates the result with the same models as written agents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.teams.templates import PLACEHOLDER, Role, Template


@dataclass(frozen=True)
class Origin:
    """Where an agent came from: a template role (and the file:line that last changed it)."""
    agent: str
    role: str
    template: str
    where: str
    overridden: tuple[str, ...] = ()  # fields the manifest wrote over the template's


def agent_names(role: Role) -> list[str]:
    """developer -> developer; count 2 -> developer-1, developer-2 ('_' becomes '-')."""
    base = role.name.replace("_", "-")
    return [base] if role.count == 1 else [f"{base}-{n}" for n in range(1, role.count + 1)]


def manager_agent(template: Template, agents: list[dict[str, Any]]) -> str | None:
    """The first agent holding the template's manager role (after the manifest's agents merged)."""
    return next((agent["name"] for agent in agents if template.manager and agent.get("role") == template.manager), None)


def team_agents(template: Template, extra_roles: tuple[Role, ...] = ()) -> tuple[list[dict[str, Any]], list[Origin]]:
    """One agent per role (count of them), briefs still holding their placeholders."""
    agents, origins = [], []
    for role in template.roles + extra_roles:
        for name in agent_names(role):
            agent: dict[str, Any] = {"name": name, "role": role.name, "brief": role.brief, "worktree": role.worktree}
            if role.checkins:
                agent["checkins"] = [{"every": every, "note": note} for every, note in role.checkins]
            agents.append(agent)
            origins.append(Origin(name, role.name, role.source, role.where))
    return agents, origins


def merge_agents(composed: list[dict[str, Any]], origins: list[Origin], written: list[dict[str, Any]]
                 ) -> tuple[list[dict[str, Any]], list[Origin | None], list[int | None]]:
    """Written agents override composed ones of the same name field by field, or are appended.

    A written agent of another name whose `role` is a template role held by one agent takes
    that agent's place (`- {name: pm, role: project_manager}` is the team's manager).
    Returns the agents, each one's template origin (None: only in the manifest) and each one's
    index in the manifest's own list (None: only from the template), for error positions.
    """
    by_name = {agent["name"]: index for index, agent in enumerate(composed)}
    names = {agent.get("name") for agent in written}
    holders: dict[str, list[int]] = {}
    for index, agent in enumerate(composed):
        holders.setdefault(agent["role"], []).append(index)
    by_role = {role: found[0] for role, found in holders.items()
               if len(found) == 1 and composed[found[0]]["name"] not in names}
    agents = [dict(agent) for agent in composed]
    merged_origins: list[Origin | None] = list(origins)
    written_index: list[int | None] = [None] * len(agents)
    for index, agent in enumerate(written):
        at = by_name.get(agent.get("name"))
        if at is None and agent.get("role") in by_role:
            at = by_role.pop(agent["role"])
        if at is None:
            agents.append(dict(agent))
            merged_origins.append(None)
            written_index.append(index)
            continue
        agents[at].update(agent)
        origin = merged_origins[at]
        assert origin is not None
        merged_origins[at] = Origin(agent["name"], origin.role, origin.template, origin.where,
                                    tuple(sorted(set(agent) - {"name", "role"})))
        written_index[at] = index
    return agents, merged_origins, written_index


def substitute(text: str, values: dict[str, str]) -> tuple[str, list[str]]:
    """TEXT with its <<placeholders>> filled; the unknown ones are returned, not left in."""
    unknown: list[str] = []

    def fill(match) -> str:
        word = match.group(1)
        if word in values:
            return values[word]
        unknown.append(match.group(0))
        return match.group(0)

    return PLACEHOLDER.sub(fill, text), unknown


def placeholder_values(agent: dict[str, Any], manager: str | None, team: list[str], project: str,
                       upstream: str) -> dict[str, str]:
    values = {"self": agent["name"], "team": ", ".join(team), "project": project, "upstream": upstream,
              "branch": agent.get("branch") or f"orch/{agent['name']}"}
    if manager is not None:
        values["manager"] = manager
    return values
