"""apply / plan / status / destroy through the CLI, on a private tmux server, as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import ORCH as ORCH_BIN
from tests.conftest import tmux, toy_log, wait_until, write_manifest

PANES = "#{window_name}\t#{window_id}\t#{pane_id}\t#{pane_pid}\t#{pane_dead}\t#{session_name}"


def panes(socket: str) -> list[dict[str, str]]:
    rows = []
    for line in tmux(socket, "list-panes", "-a", "-F", PANES).splitlines():
        name, window, pane, pid, dead, session = line.split("\t")
        rows.append({"name": name, "window": window, "pane": pane, "pid": pid, "dead": dead, "session": session})
    return rows


def env_manifest(folder: Path, agents: list[str], project: str = "envs", command: str | None = None) -> Path:
    """Agents that dump their environment and folder, then stay alive."""
    out = folder / "out"
    out.mkdir(exist_ok=True)
    (folder / "work").mkdir(exist_ok=True)
    body = ""
    for name in agents:
        cmd = command or f"env > {out}/{name}.env; pwd > {out}/{name}.pwd; exec sleep 600"
        body += f"    - name: {name}\n      command: \"{cmd}\"\n      cwd: work\n      env: {{GREETING: hello-{name}}}\n"
    header = f"apiVersion: orch/v1\nkind: Project\nmetadata:\n  name: {project}\nspec:\n  agents:\n"
    path = folder / "orch.yaml"
    path.write_text(header + body)
    return path


def test_apply_creates_one_session_with_a_window_per_agent(tmp_path, orch, tmux_socket):
    manifest = env_manifest(tmp_path, ["pm", "dev", "qa"])
    result = orch("apply", str(manifest))
    assert result.returncode == 0, result.stderr
    rows = panes(tmux_socket)
    assert sorted(r["name"] for r in rows) == ["dev", "pm", "qa"]
    assert len({r["session"] for r in rows}) == 1
    session = rows[0]["session"]
    assert session.startswith("envs-") and len(session) == len("envs-") + 8
    for name in ("pm", "dev", "qa"):
        env_file = tmp_path / "out" / f"{name}.env"
        wait_until(lambda: env_file.exists() and "ORCH_AGENT" in env_file.read_text(), what=f"{name}'s env")
        env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
        assert env["ORCH_PROJECT"] == "envs"
        assert env["ORCH_AGENT"] == name
        assert env["ORCH_HOME"] == os.environ["ORCH_HOME"]
        assert env["ORCH_TMUX_SOCKET"] == tmux_socket
        assert env["GREETING"] == f"hello-{name}"
        wait_until(lambda: (tmp_path / "out" / f"{name}.pwd").exists())
        assert (tmp_path / "out" / f"{name}.pwd").read_text().strip() == str(tmp_path / "work")


def test_apply_of_many_agents_in_one_go_stays_under_tmuxs_command_size(tmp_path, orch, tmux_socket):
    """40 windows' creations are too long for one tmux command ("command too long"): batched."""
    names = [f"agent-with-a-long-name-{i:02d}" for i in range(40)]
    manifest = env_manifest(tmp_path, names, command="exec sleep 600")
    result = orch("apply", str(manifest))
    assert result.returncode == 0, result.stdout + result.stderr
    rows = panes(tmux_socket)
    assert sorted(r["name"] for r in rows) == names and len({r["session"] for r in rows}) == 1
    assert all(r["dead"] == "0" for r in rows)
    marks = tmux(tmux_socket, "list-panes", "-a", "-F", "#{@orch_agent} #{remain-on-exit}").split("\n")
    assert sorted(m for m in marks if m) == sorted(f"{n} on" for n in names)
    plan = orch("plan", str(manifest), "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr


def test_apply_twice_changes_nothing(tmp_path, orch, tmux_socket):
    manifest = env_manifest(tmp_path, ["pm", "dev"])
    assert orch("apply", str(manifest)).returncode == 0
    before = panes(tmux_socket)
    plan = orch("plan", str(manifest), "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "No changes" in plan.stdout
    again = orch("apply", str(manifest))
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert panes(tmux_socket) == before


def test_plan_shows_every_kind_of_drift_and_apply_repairs_it(tmp_path, orch, tmux_socket):
    manifest = env_manifest(tmp_path, ["pm", "dev", "qa", "ops"], command="exec sleep 600")
    assert orch("apply", str(manifest)).returncode == 0
    by_name = {r["name"]: r for r in panes(tmux_socket)}
    tmux(tmux_socket, "kill-window", "-t", by_name["pm"]["window"])  # window gone
    os.kill(int(by_name["dev"]["pid"]), signal.SIGKILL)  # agent died
    wait_until(lambda: {r["name"]: r for r in panes(tmux_socket)}["dev"]["dead"] == "1", what="dev dead")
    text = manifest.read_text()
    text = text.replace("    - name: ops\n      command: \"exec sleep 600\"", "    - name: ops\n      command: \"exec sleep 601\"")
    text = text.replace("    - name: qa\n", "    - name: gone\n", 1).replace("hello-qa", "hello-gone")
    manifest.write_text(text)

    plan = orch("plan", str(manifest), "--detailed-exitcode")
    assert plan.returncode == 2, plan.stderr
    lines = plan.stdout.splitlines()
    assert any(l.strip().startswith("+ window pm") for l in lines), plan.stdout
    assert any(l.strip().startswith("~ window dev") and "exit" in l for l in lines), plan.stdout
    assert any(l.strip().startswith("-/+ window ops") and "command: 'exec sleep 600' → 'exec sleep 601'" in l
               for l in lines), plan.stdout
    assert any(l.strip().startswith("- window qa") and "removed" in l for l in lines), plan.stdout
    assert any(l.strip().startswith("+ window gone") for l in lines), plan.stdout
    assert lines[-1] == "Plan: 3 to add, 1 to change, 2 to destroy."

    assert orch("apply", str(manifest)).returncode == 0
    rows = {r["name"]: r for r in panes(tmux_socket)}
    assert sorted(rows) == ["dev", "gone", "ops", "pm"]
    assert all(r["dead"] == "0" for r in rows.values())
    assert orch("plan", str(manifest), "--detailed-exitcode").returncode == 0
    status = orch.json("status")
    dev = next(a for a in status["projects"][0]["agents"] if a["name"] == "dev")
    assert dev["restarts"] == 1 and dev["alive"] is True and dev["last_exit_status"] is not None


def test_removing_an_agent_ends_its_whole_process_tree(tmp_path, orch, tmux_socket):
    pidfile = tmp_path / "helper.pid"
    command = f"sh -c 'trap \\\"\\\" HUP TERM; exec sleep 900' & echo $! > {pidfile}; exec sleep 600"
    manifest = write_manifest(tmp_path, f"""
        apiVersion: orch/v1
        kind: Project
        metadata:
          name: trees
        spec:
          agents:
            - name: keep
              command: exec sleep 600
            - name: leaky
              command: "{command}"
        """)
    assert orch("apply", str(manifest)).returncode == 0, orch("status").stdout
    helper = int(wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), what="helper pid"))
    assert Path(f"/proc/{helper}").exists()
    manifest.write_text(manifest.read_text().split("    - name: leaky")[0])
    result = orch("apply", str(manifest))
    assert result.returncode == 0, result.stderr
    wait_until(lambda: not _alive(helper), timeout=10, what="the SIGHUP/SIGTERM-ignoring helper to be killed")
    assert [r["name"] for r in panes(tmux_socket)] == ["keep"]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_destroy_leaves_a_users_own_window_and_its_session(tmp_path, orch, tmux_socket):
    manifest = env_manifest(tmp_path, ["pm", "dev"], command="exec sleep 600")
    assert orch("apply", str(manifest)).returncode == 0
    session = panes(tmux_socket)[0]["session"]
    tmux(tmux_socket, "new-window", "-d", "-t", f"={session}:", "-n", "mine", "sleep 600")
    plan = orch("plan", str(manifest), "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout  # the user's window is not drift
    result = orch("destroy", str(manifest))
    assert result.returncode == 1 and "--yes" in result.stderr  # no terminal: refuses without --yes
    assert len(panes(tmux_socket)) == 3
    assert orch("destroy", "envs", "--yes").returncode == 0
    assert [r["name"] for r in panes(tmux_socket)] == ["mine"]
    assert orch.json("status") == {"projects": []}


def test_destroy_removes_the_session_when_only_agents_were_in_it(tmp_path, orch, tmux_socket):
    manifest = env_manifest(tmp_path, ["pm"], command="exec sleep 600")
    assert orch("apply", str(manifest)).returncode == 0
    assert orch("destroy", "envs", "--yes").returncode == 0
    assert panes(tmux_socket) == []
    events = [json.loads(line) for line in orch("events", "envs", "-o", "json").stdout.splitlines()]
    assert [e["kind"] for e in events][-1] == "project.destroyed"


def test_status_json_contract(tmp_path, orch, tmux_socket):
    manifest = env_manifest(tmp_path, ["pm"], command="exec sleep 600")
    assert orch("apply", str(manifest)).returncode == 0
    document = orch.json("status")
    project = document["projects"][0]
    assert set(project) >= {"name", "session", "manifest", "watcher", "agents"}
    assert project["manifest"] == str(manifest.resolve())
    agent = project["agents"][0]
    assert set(agent) >= {"name", "role", "window", "alive", "restarts", "credit", "next_checkin", "worktree"}
    assert agent["credit"] == {"exhausted": False, "until": None}
    assert (agent["name"], agent["window"], agent["alive"], agent["restarts"]) == ("pm", "pm", True, 0)
    text = orch("status").stdout
    assert "pm" in text and "up" in text


def test_a_session_name_owned_by_someone_else_is_refused(tmp_path, orch, tmux_socket):
    tmux(tmux_socket, "new-session", "-d", "-s", "taken", "sleep 600")
    manifest = write_manifest(tmp_path, """
        apiVersion: orch/v1
        kind: Project
        metadata:
          name: taken
        spec:
          session: taken
          agents:
            - name: pm
              command: exec sleep 600
        """)
    result = orch("apply", str(manifest))
    assert result.returncode == 1
    assert "already exists" in result.stderr and "Traceback" not in result.stderr
    assert [r["session"] for r in panes(tmux_socket)] == ["taken"]


def test_the_tmux_socket_flag_overrides_the_environment(tmp_path, orch, tmux_socket):
    other = tmux_socket + "-b"
    manifest = env_manifest(tmp_path, ["pm"], command="exec sleep 600")
    try:
        assert orch("apply", str(manifest), "--tmux-socket", other).returncode == 0
        assert panes(tmux_socket) == [] and len(panes(other)) == 1
    finally:
        subprocess.run(["tmux", "-L", other, "kill-server"], capture_output=True)


def test_brief_is_delivered_once_per_fresh_process(tmp_path, orch, tmux_socket):
    logs = tmp_path / "logs"
    logs.mkdir()
    manifest = write_manifest(tmp_path, f"""
        apiVersion: orch/v1
        kind: Project
        metadata:
          name: briefs
        spec:
          agents:
            - name: pm
              command: orch-toyagent --log {logs}/pm.log --startup-delay 1
              brief: "You are the PM. Line two follows.\\nLine two."
        """)
    assert orch("apply", str(manifest)).returncode == 0
    log = logs / "pm.log"
    entries = toy_log(log)
    assert [e["text"] for e in entries] == ["You are the PM. Line two follows.\nLine two."]
    assert orch("apply", str(manifest)).returncode == 0  # re-apply: no second brief
    assert len(toy_log(log)) == 1
    pid = int(panes(tmux_socket)[0]["pid"])
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: panes(tmux_socket)[0]["dead"] == "1")
    assert orch("apply", str(manifest)).returncode == 0  # restarted: the new process gets the brief
    entries = toy_log(log)
    assert len(entries) == 2 and entries[1]["pid"] != entries[0]["pid"]


def test_a_pane_a_user_splits_off_in_an_agent_window_is_never_touched(tmp_path, orch, tmux_socket):
    manifest = env_manifest(tmp_path, ["pm"], command="exec sleep 600")
    assert orch("apply", str(manifest)).returncode == 0
    agent = panes(tmux_socket)[0]
    tmux(tmux_socket, "split-window", "-b", "-d", "-t", agent["pane"], "sleep 700")  # the user's pane, first
    user = next(r for r in panes(tmux_socket) if r["pane"] != agent["pane"])
    plan = orch("plan", str(manifest), "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout  # not drift, not a duplicate agent
    assert orch("send", "envs/pm", "hello", "--timeout", "1").returncode == 1  # typed into neither pane (no prompt)
    assert orch("destroy", "envs", "--yes").returncode == 0
    assert [r["pane"] for r in panes(tmux_socket)] == [user["pane"]]
    assert _alive(int(user["pid"]))


def test_a_converged_plan_of_the_applied_file_skips_validation_but_still_sees_drift(tmp_path, orch, tmux_socket):
    manifest = env_manifest(tmp_path, ["pm", "dev"], command="exec sleep 600")
    assert orch("apply", str(manifest)).returncode == 0
    imported = subprocess.run([sys.executable, "-X", "importtime", ORCH_BIN, "plan", str(manifest)],
                              capture_output=True, text=True)
    assert "No changes" in imported.stdout and "pydantic" not in imported.stderr  # the cached desired state
    tmux(tmux_socket, "kill-window", "-t", {r["name"]: r for r in panes(tmux_socket)}["dev"]["window"])
    plan = orch("plan", str(manifest), "--detailed-exitcode")
    assert plan.returncode == 2 and "+ window dev" in plan.stdout
    manifest.write_text(manifest.read_text().replace("exec sleep 600", "exec sleep 601", 1))
    changed = orch("plan", str(manifest))
    assert "-/+ window pm" in changed.stdout and "'exec sleep 600' → 'exec sleep 601'" in changed.stdout


def test_a_renamed_session_is_renamed_back_and_the_agents_keep_running(tmp_path, orch, tmux_socket):
    manifest = env_manifest(tmp_path, ["pm", "dev"], command="exec sleep 600")
    assert orch("apply", str(manifest)).returncode == 0
    before = panes(tmux_socket)
    session = before[0]["session"]
    tmux(tmux_socket, "rename-session", "-t", f"={session}", "my-work")
    plan = orch("plan", str(manifest), "--detailed-exitcode")
    assert plan.returncode == 2 and f"~ session {session}" in plan.stdout and "my-work" in plan.stdout
    assert orch("apply", str(manifest)).returncode == 0
    after = panes(tmux_socket)
    assert [(r["pane"], r["pid"], r["session"]) for r in after] == [(r["pane"], r["pid"], session) for r in before]


def test_plan_says_an_env_value_changed_without_showing_it(tmp_path, orch, tmux_socket):
    """Like Terraform's "sensitive": env values (tokens, keys) never reach the terminal or the audit log
    unless asked for with --show-sensitive."""
    manifest = env_manifest(tmp_path, ["pm"], command="exec sleep 600")
    manifest.write_text(manifest.read_text().replace("GREETING: hello-pm", "TOKEN: s3cret-old"))
    assert orch("apply", str(manifest)).returncode == 0
    manifest.write_text(manifest.read_text().replace("s3cret-old", "s3cret-new"))
    for args in ((), ("-o", "json")):
        plan = orch("plan", str(manifest), *args)
        assert plan.returncode == 0, plan.stderr
        assert "env.TOKEN" in plan.stdout and "changed" in plan.stdout, plan.stdout
        assert "s3cret" not in plan.stdout + plan.stderr, plan.stdout
    shown = orch("plan", str(manifest), "--show-sensitive")
    assert "env.TOKEN: 's3cret-old' → 's3cret-new'" in shown.stdout, shown.stdout
    applied = orch("apply", str(manifest))
    assert applied.returncode == 0 and "s3cret" not in applied.stdout + applied.stderr
    events = orch("events", "-o", "json")
    assert "env.TOKEN" in events.stdout and "s3cret" not in events.stdout
