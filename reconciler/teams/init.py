"""`orch init`: a commented starter manifest for a repository, from its detected team.

The text is built here (pure, from the detection) and checked with the manifest loader before
it is written, so what `orch init` leaves behind validates and applies as it is.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from reconciler.errors import UserError
from reconciler.teams.detect import Detection

DEFAULT_COMMAND = "claude --dangerously-skip-permissions"
EVIDENCE_LINES = 8


def project_name(folder: Path) -> str:
    """A valid project name from the folder's name ('My_Repo.v2' -> 'my-repo-v2')."""
    name = re.sub(r"[^a-z0-9]+", "-", folder.name.lower()).strip("-")[:40].strip("-")
    return name or "project"


def starter_text(name: str, detection: Detection, template, repo: str | None, command: str,
                 repo_note: str = "", extra: tuple = ()) -> str:
    """The manifest: the detection and its evidence as comments, the team by template name."""
    runner = (f"; runner-up {detection.runner_up} ({detection.scores.get(detection.runner_up, 0):.1f} points)"
              if detection.runner_up else "")
    lines = [
        "# orch project manifest, written by `orch init`. Check it:  orch validate orch.yaml",
        "# See what it would start:  orch plan orch.yaml        Start it:  orch apply orch.yaml",
        "#",
        f"# Detected project type: {detection.type} (confidence {detection.confidence:.2f}{runner}),",
        f"# from {detection.files_scored} scored files of {detection.files_total}"
        + (f" (left out: {', '.join(f'{n} {k}' for k, n in sorted(detection.excluded.items()))})"
           if detection.excluded else "") + ". Evidence:",
    ]
    for item in detection.evidence[:EVIDENCE_LINES]:
        example = f", e.g. {item.files[0]}" if item.files else ""
        lines.append(f"#   {item.type:<14} {item.points:+5.1f}  {item.signal} ({item.count} files{example})")
    if extra:
        lines.append(f"# The result is ambiguous, so the team adds the runner-up's ({detection.runner_up_template}) "
                     "distinctive roles (add_roles).")
    lines += [
        "#",
        f"# The team: template {template.name} ({' -> '.join(template.chain)}): "
        + ", ".join(f"{r.name}" + (f" x{r.count}" if r.count > 1 else "") for r in template.roles) + ".",
        f"# `orch team show {template.name}` prints every role's brief. To change a role, list an agent of",
        "# the same name under spec.agents (the fields you write win); to add one, list a new name.",
        "apiVersion: orch/v1",
        "kind: Project",
        "metadata:",
        f"  name: {name}",
        "spec:",
    ]
    if repo is not None:
        lines.append(f"  repo: {json.dumps(repo)}  # agents with a worktree each get a branch of their own here")
    elif repo_note:
        lines.append(f"  # repo: .   ({repo_note})")
    lines += [
        "  team:",
        f"    template: {template.name}   # or `auto`: detect again on every load",
    ]
    if extra:
        lines.append(f"    add_roles: [{', '.join(role.name for role in extra)}]   # from {detection.runner_up_template}")
    lines += [
        "    refine: false              # true: let a model adjust the roles (pip install 'orch[ai]')",
        "  defaults:",
        f"    command: {json.dumps(command)}",
        "  agents: []                   # e.g.  - {name: developer-1, brief: \"You are ...\"}",
        "",
    ]
    return "\n".join(lines)


def write_starter(folder: Path, file: Path | None, force: bool, command: str) -> tuple[Path, str]:
    """Detect FOLDER's team and write the manifest (default FOLDER/orch.yaml); (path, text)."""
    from reconciler.manifest.loader import ManifestError, parse_manifest
    from reconciler.teams.detect import choose_team, detect
    from reconciler.teams.templates import search_path

    folder = folder.expanduser().resolve()
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    target = (file.expanduser() if file else folder / "orch.yaml").absolute()
    if target.exists() and not force:
        raise UserError(f"{target} already exists (use --force to overwrite it)")
    folders = search_path()
    detection = detect(folder, folders)
    if detection.template is None:
        raise UserError(f"no template serves the detected type {detection.type!r} (see `orch team list`)")
    template, extra, _ = choose_team(detection, folders)
    repo, note = _repo(folder, target.parent)
    text = starter_text(project_name(folder), detection, template, repo, command, note, extra)
    try:
        parse_manifest(text, target)
    except ManifestError as err:  # a bug in init, not the user's: never leave a broken manifest
        raise UserError(f"orch init wrote a manifest that does not validate:\n{err}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    temporary.write_text(text)
    os.replace(temporary, target)
    return target, text


def _repo(folder: Path, manifest_folder: Path) -> tuple[str | None, str]:
    """spec.repo relative to the manifest, when FOLDER is a git repository with a commit to branch from."""
    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10)

    try:
        top = git("rev-parse", "--show-toplevel")
    except (OSError, subprocess.TimeoutExpired):
        return None, "git is not available"
    if top.returncode != 0:
        return None, "not a git repository: run `git init` and commit, then uncomment"
    if git("rev-parse", "--verify", "--quiet", "HEAD").returncode != 0:
        return None, "the repository has no commit yet: commit once, then uncomment"
    if git("symbolic-ref", "--quiet", "HEAD").returncode != 0:
        return None, "HEAD is detached: check out the branch agents should follow, then uncomment"
    return os.path.relpath(top.stdout.strip(), manifest_folder), ""
