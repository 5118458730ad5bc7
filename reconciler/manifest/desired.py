"""Turn a validated manifest into the desired state: one DesiredAgent per agent, fully resolved."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from reconciler.drivers import resolve as resolve_driver
from reconciler.home import project_folder
from reconciler.manifest.loader import LoadedManifest
from reconciler.manifest.durations import parse_duration
from reconciler.model.agents import DesiredAgent, DesiredProject


def default_session(name: str, project_id: str) -> str:
    return f"{name}-{project_id}"


def worktrees_dir(home: Path, project: str, project_id: str) -> Path:
    return project_folder(home, project, project_id) / "worktrees"


def desired_project(loaded: LoadedManifest, project_id: str, home: Path, socket: str | None,
                    upstream: str | None = None) -> DesiredProject:
    """The project as the manifest wants it. `upstream`: the branch its worktrees follow (loop.project_upstream);
    without it there is no git work (git=None), but the agents still run."""
    manifest = loaded.manifest
    spec = manifest.spec
    name = manifest.metadata.name
    repo = loaded.resolve(spec.repo) if spec.repo else None
    folder = worktrees_dir(home, name, project_id)
    agents, checkins, worktrees = [], [], []
    if repo is not None:
        from reconciler.model.worktrees import DesiredWorktree
    for agent in spec.agents:
        if repo is not None and agent.worktree is not False:
            worktrees.append(DesiredWorktree(agent.name, str(folder / agent.name), agent.branch or f"orch/{agent.name}"))
        for index, checkin in enumerate(agent.checkins or spec.defaults.checkins):
            checkins.append(desired_checkin(agent.name, index, checkin.every, checkin.note))
        command = agent.command or spec.defaults.command
        if agent.cwd is not None:
            cwd = loaded.resolve(agent.cwd)
        elif worktrees and worktrees[-1].agent == agent.name:
            cwd = Path(worktrees[-1].path)
        else:
            cwd = repo or loaded.folder
        env = tuple(sorted({**spec.defaults.env, **agent.env}.items()))
        spec_fields: tuple[tuple[str, object], ...] = (("command", command), ("cwd", str(cwd)), ("env", dict(env)))
        if agent.kind is not None:  # only when given: a detected kind leaves existing windows' hashes alone
            spec_fields += (("kind", agent.kind),)
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
                kind=resolve_driver(agent.kind, command).kind,
                restart=agent.restart,
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
        checkin_when=spec.checkin_policy.when,
        checkin_max_wait_s=parse_duration(spec.checkin_policy.max_wait),
        credit_patterns=tuple(spec.credit.patterns),
        resume_note=spec.credit.resume_note,
        credit_shared=spec.credit.shared,
        stall_after_s=parse_duration(spec.stall_after),
        escalate_to=spec.sync.escalate_to,
        git=_git_settings(spec, repo, upstream, tuple(worktrees), folder),
    )


def _git_settings(spec, repo: Path | None, upstream: str | None, worktrees: tuple, folder: Path):
    """How the project's worktrees follow upstream (GitSettings), or None without spec.repo or an upstream."""
    if repo is None or upstream is None:
        return None
    from reconciler.model.worktrees import GitSettings

    return GitSettings(repo=str(repo), upstream=upstream, worktrees=worktrees, projects_dir=str(folder),
                       mode=spec.sync.mode or "rebase", escalate_to=spec.sync.escalate_to,
                       integrate=spec.sync.integrate, gate=spec.sync.gate)


def desired_checkin(agent: str, index: int, every: str, note: str):
    """A recurring check-in (DesiredCheckin) whose key changes when its interval or note does."""
    from reconciler.model.checkins import DesiredCheckin

    seconds = parse_duration(every)
    digest = hashlib.sha256(f"{seconds}\0{note}".encode()).hexdigest()[:10]
    return DesiredCheckin(agent=agent, key=f"{agent}#{index}#{digest}", every_s=seconds, note=note)


def spec_hash(fields: dict[str, object]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
