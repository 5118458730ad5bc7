"""The desired state of the last applied manifest, kept as JSON beside it in the registry.

`orch plan` of a file whose bytes are exactly what was last applied rebuilds its desired
state from this instead of parsing YAML and validating with pydantic again (about 150 ms of
imports), so a converged plan costs little more than one tmux call. Any difference in the
bytes, in orch's version, or in the project's stored upstream misses the cache and takes
the full path.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from reconciler.model.agents import DesiredAgent, DesiredProject

VERSION = "orch-0.1.0/desired-5"


def cache_key(manifest_sha256: str, upstream: str | None) -> str:
    """`upstream`: the project's stored upstream (an implicit one is not in the manifest's bytes)."""
    return f"{VERSION}:{manifest_sha256}:{upstream or ''}"


def dump(desired: DesiredProject) -> str:
    data = asdict(desired)
    data.pop("orch_env")  # depends on how orch is invoked, not on the manifest
    return json.dumps({"desired": data})


def load(text: str, orch_env: tuple[tuple[str, str], ...]) -> DesiredProject:
    data = json.loads(text)["desired"]
    agents = tuple(
        DesiredAgent(name=a["name"], role=a["role"], command=a["command"], cwd=a["cwd"],
                     env=tuple(tuple(pair) for pair in a["env"]), brief=a["brief"], spec_hash=a["spec_hash"],
                     spec=tuple((key, value) for key, value in a["spec"]), kind=a["kind"],
                     restart=a["restart"])
        for a in data["agents"])
    checkins: tuple[DesiredCheckin, ...] = ()
    if data["checkins"]:
        from reconciler.model.checkins import DesiredCheckin

        checkins = tuple(DesiredCheckin(**c) for c in data["checkins"])
    git = None
    if data["git"] is not None:
        from reconciler.model.worktrees import DesiredWorktree, GitSettings

        settings = dict(data["git"])
        settings["worktrees"] = tuple(DesiredWorktree(**w) for w in settings["worktrees"])
        git = GitSettings(**settings)
    return DesiredProject(
        name=data["name"], id=data["id"], session=data["session"], manifest_path=data["manifest_path"],
        agents=agents, orch_env=orch_env, checkins=checkins, missed_policy=data["missed_policy"],
        checkin_when=data["checkin_when"], checkin_max_wait_s=data["checkin_max_wait_s"],
        credit_patterns=tuple(data["credit_patterns"]), resume_note=data["resume_note"],
        credit_shared=data["credit_shared"], stall_after_s=data["stall_after_s"],
        escalate_to=data["escalate_to"], git=git)


def read_bytes(path: str | Path) -> bytes | None:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError:
        return None
