"""Turn a validated manifest into the desired state: one DesiredAgent per agent, fully resolved."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from reconciler.manifest.loader import LoadedManifest
from reconciler.manifest.durations import parse_duration
from reconciler.model import DesiredAgent, DesiredCheckin, DesiredProject


def default_session(name: str, project_id: str) -> str:
    return f"{name}-{project_id}"


def desired_project(loaded: LoadedManifest, project_id: str, home: Path, socket: str | None) -> DesiredProject:
    manifest = loaded.manifest
    spec = manifest.spec
    name = manifest.metadata.name
    repo = loaded.resolve(spec.repo) if spec.repo else None
    agents, checkins = [], []
    for agent in spec.agents:
        for index, checkin in enumerate(agent.checkins or spec.defaults.checkins):
            checkins.append(desired_checkin(agent.name, index, checkin.every, checkin.note))
        command = agent.command or spec.defaults.command
        if agent.cwd is not None:
            cwd = loaded.resolve(agent.cwd)
        else:
            cwd = repo or loaded.folder
        env = tuple(sorted({**spec.defaults.env, **agent.env}.items()))
        spec_fields: tuple[tuple[str, object], ...] = (("command", command), ("cwd", str(cwd)), ("env", dict(env)))
        agents.append(
            DesiredAgent(
                name=agent.name,
                role=agent.role,
                command=command,
                cwd=str(cwd),
                env=env,
                brief=agent.brief,
                spec_hash=spec_hash(dict(spec_fields)),
                spec=spec_fields,
            )
        )
    return DesiredProject(
        name=name,
        id=project_id,
        session=spec.session or default_session(name, project_id),
        manifest_path=str(loaded.path),
        agents=tuple(agents),
        orch_env=(("ORCH_HOME", str(home)), ("ORCH_TMUX_SOCKET", socket or "")),
        checkins=tuple(checkins),
        missed_policy=spec.checkin_policy.missed,
        credit_patterns=tuple(spec.credit.patterns),
        resume_note=spec.credit.resume_note,
        credit_shared=spec.credit.shared,
    )


def desired_checkin(agent: str, index: int, every: str, note: str) -> DesiredCheckin:
    """A recurring check-in whose key changes when its interval or note does (a new schedule)."""
    seconds = parse_duration(every)
    digest = hashlib.sha256(f"{seconds}\0{note}".encode()).hexdigest()[:10]
    return DesiredCheckin(agent=agent, key=f"{agent}#{index}#{digest}", every_s=seconds, note=note)


def spec_hash(fields: dict[str, object]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
