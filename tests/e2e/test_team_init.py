"""orch init / team detect / team show / team list / plan with a team, as a user runs them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import tmux, toy_log, wait_until, write_manifest


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def go_repo(root: Path) -> Path:
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    files = {"go.mod": "module example.com/svc\n", "cmd/svc/main.go": "package main\n", "Dockerfile": "FROM scratch\n",
             **{f"internal/h{n}.go": "package internal\n" for n in range(8)}, "README.md": "# svc\n"}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")
    return root


def test_init_writes_a_manifest_that_validates_and_applies_as_is(tmp_path, orch, tmux_socket):
    repo = go_repo(tmp_path / "svc")
    log = tmp_path / "agents.log"
    result = orch("init", str(repo), "--command", f"orch-toyagent --log {log}")
    assert result.returncode == 0, result.stderr
    manifest = repo / "orch.yaml"
    text = manifest.read_text()
    assert "# Detected project type: code" in text and "program entry point" in text
    assert "template: code_project" in text

    again = orch("init", str(repo))
    assert again.returncode == 1 and "already exists (use --force" in again.stderr
    assert manifest.read_text() == text  # untouched

    assert orch("validate", str(manifest)).returncode == 0
    plan = orch("plan", str(manifest))
    assert plan.returncode == 0, plan.stderr
    assert "developer-1          role developer from code_project (" in plan.stdout
    assert "code_project.yaml:" in plan.stdout

    applied = orch("apply", str(manifest))
    assert applied.returncode == 0, applied.stderr + applied.stdout
    windows = sorted(tmux(tmux_socket, "list-windows", "-a", "-F", "#{window_name}").split())
    assert windows == ["developer-1", "developer-2", "orchestrator", "project-manager", "tester", "testrunner"]

    def brief_of(agent: str) -> str:
        return "\n".join(r["text"] for r in toy_log(log) if r["text"].startswith(f"You are {agent},"))

    delivered = wait_until(lambda: brief_of("developer-1"), timeout=30, what="developer-1's brief")
    assert "You report to project-manager" in delivered and "branch orch/developer-1" in delivered
    assert "rebased on\nmain" in delivered or "rebased on main" in delivered
    assert "<<" not in delivered
    assert orch("plan", str(manifest), "--detailed-exitcode").returncode == 0  # converged

    forced = orch("init", str(repo), "--force", "--command", "orch-toyagent")
    assert forced.returncode == 0 and 'command: "orch-toyagent"' in manifest.read_text()


def test_team_detect_prints_type_template_confidence_runner_up_and_evidence(tmp_path, orch):
    repo = go_repo(tmp_path / "svc")
    document = orch.json("team", "detect", str(repo))
    assert document["type"] == "code" and document["template"] == "code_project"
    assert 0 < document["confidence"] <= 1
    assert document["runner_up"]["type"] == "infrastructure"  # the Dockerfile
    assert {"language manifest", "program entry point"} <= {e["signal"] for e in document["evidence"]}
    text = orch("team", "detect", str(repo)).stdout
    assert text.startswith("type        code\ntemplate    code_project\n")


def test_refinement_without_the_extra_or_a_key_says_how_and_carries_on(tmp_path, orch, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    result = orch("team", "detect", str(go_repo(tmp_path / "svc")), "--refine")
    assert result.returncode == 0
    assert "AI refinement is off: install the extra (pip install 'orch[ai]'), set ANTHROPIC_API_KEY" in result.stdout


def test_team_show_and_list(orch, tmp_path, monkeypatch):
    shown = orch.json("team", "show", "code_project")
    assert shown["name"] == "code_project" and shown["type"] == "code" and shown["chain"] == ["code_project", "base"]
    role = {r["name"]: r for r in shown["roles"]}["developer"]
    assert {"name", "brief", "count", "worktree", "checkins", "from"} <= set(role)
    assert role["from"] == "code_project" and role["count"] == 2

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "code_project.yaml").write_text("apiVersion: orch/v1\nkind: TeamTemplate\nname: code_project\n"
                                            "inherits: base\ntype: code\nroles: [{name: solo, brief: 'Alone.'}]\n")
    monkeypatch.setenv("ORCH_TEMPLATES", str(mine))
    listed = {t["name"]: t for t in orch.json("team", "list")["templates"]}
    assert listed["code_project"]["from"] == "ORCH_TEMPLATES" and listed["base"]["from"] == "built-in"
    bad = orch("team", "show", "../base")
    assert bad.returncode == 1 and "is not a template name" in bad.stderr


def test_a_broken_user_template_fails_validation_with_its_file_line_and_chain(tmp_path, orch):
    teams = tmp_path / "teams"
    teams.mkdir()
    (teams / "ours.yaml").write_text("apiVersion: orch/v1\nkind: TeamTemplate\nname: ours\ninherits: code_project\n"
                                     "roles:\n  - name: developer\n    cuont: 3\n")
    manifest = write_manifest(tmp_path, """
        apiVersion: orch/v1
        kind: Project
        metadata:
          name: broken
        spec:
          team:
            template: ours
            templates_dir: teams
          defaults:
            command: orch-toyagent
        """)
    result = orch("validate", str(manifest))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert any(line.startswith(f"{manifest}:7:15: spec.team.template: template 'ours' is invalid") for line in lines)
    assert any(line.startswith(f"{teams / 'ours.yaml'}:7:5: roles[0].cuont: unknown field") for line in lines)
    assert any("(in chain ours)" in line or "ours.yaml" in line for line in lines)


def test_auto_with_manifest_agents_overriding_and_extending(tmp_path, orch):
    (tmp_path / "main.tf").write_text("")
    (tmp_path / "variables.tf").write_text("")
    manifest = write_manifest(tmp_path, """
        apiVersion: orch/v1
        kind: Project
        metadata:
          name: infra
        spec:
          team:
            template: auto
          defaults:
            command: orch-toyagent
          agents:
            - name: devops
              brief: "Only plan, never apply."
            - name: auditor
        """)
    document = orch.json("validate", str(manifest))
    assert document["manifests"][0]["agents"] == 6  # orchestrator, pm, sysadmin, devops, securityops + auditor
    plan = orch("plan", str(manifest), "-o", "json", "--home", str(tmp_path / "h"))
    team = json.loads(plan.stdout)["team"]
    assert team["template"] == "system_deployment" and team["chosen_by"].startswith("auto: detected infrastructure")
    devops = {a["name"]: a for a in team["agents"]}["devops"]
    assert devops["overridden"] == ["brief"] and devops["template"] == "system_deployment"


def test_a_template_name_that_is_a_path_or_unknown_is_an_error_at_its_line(tmp_path, orch):
    for name, message in (("../../etc/passwd", "is not a template name"), ("nosuch", "no template 'nosuch'")):
        manifest = write_manifest(tmp_path, f"""
            apiVersion: orch/v1
            kind: Project
            metadata:
              name: shop
            spec:
              team:
                template: {name}
              defaults:
                command: orch-toyagent
            """)
        result = orch("validate", str(manifest))
        assert result.returncode == 1
        [line] = result.stderr.splitlines()
        assert line.startswith(f"{manifest}:7:15: spec.team.template: ") and message in line


def test_an_ambiguous_repository_gets_the_runner_ups_distinctive_roles_and_says_so(tmp_path, orch):
    from tests.unit.layouts import LAYOUTS, write_tree

    files = {name: files for name, _, files in LAYOUTS}["node backend api (express, typescript)"]
    write_tree(tmp_path / "api", files)
    result = orch("init", str(tmp_path / "api"), "--command", "orch-toyagent")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "api" / "orch.yaml").read_text()
    assert "# The result is ambiguous, so the team adds the runner-up's (web_app) distinctive roles" in text
    assert "    add_roles: [frontend, backend]   # from web_app" in text
    document = orch.json("validate", str(tmp_path / "api" / "orch.yaml"))
    assert document["manifests"][0]["agents"] == 8  # code_project's six, frontend and backend

    broken = text.replace("add_roles: [frontend, backend]", "add_roles: [frontend, wizard]")
    (tmp_path / "api" / "orch.yaml").write_text(broken)
    failed = orch("validate", str(tmp_path / "api" / "orch.yaml"))
    assert failed.returncode == 1 and "spec.team.add_roles[1]: 'wizard' is not a role of any template" in failed.stderr
