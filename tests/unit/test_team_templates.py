"""Team templates: the built-ins resolve, inheritance of any depth merges field by field, errors point home."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from reconciler.teams.templates import MAX_DEPTH, TemplateError, available, builtin_dir, find, resolve, search_path

HEAD = "apiVersion: orch/v1\nkind: TeamTemplate\n"


def write(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(HEAD + f"name: {name}\n" + textwrap.dedent(body).lstrip())
    return path


def errors(name: str, folder: Path) -> list[str]:
    with pytest.raises(TemplateError) as caught:
        resolve(name, search_path(folder))
    return [str(d) for d in caught.value.diagnostics]


def test_every_builtin_template_resolves_with_briefs_for_real_agents():
    folders = search_path()
    names = [name for name, _, _ in available(folders)]
    assert {"base", "code_project", "data_pipeline", "system_deployment"} <= set(names)
    for name in names:
        template = resolve(name, folders)
        assert template.chain[-1] == "base"
        for role in template.roles:
            assert len(role.brief) > 200, (name, role.name)
            if role.name not in ("orchestrator",):
                assert "<<manager>>" in role.brief or role.name == template.manager, (name, role.name)
            assert "orch checkin" in role.brief, (name, role.name)
            if role.name != template.manager and role.name != "orchestrator":
                assert "orch send" in role.brief and role.checkins == (), (name, role.name)


def test_code_project_has_the_contract_roles():
    template = resolve("code_project", search_path())
    roles = {role.name: role for role in template.roles}
    assert list(roles) == ["orchestrator", "project_manager", "developer", "tester", "testrunner"]
    assert template.type == "code" and template.chain == ("code_project", "base")
    assert roles["developer"].count == 2 and roles["developer"].worktree
    assert roles["orchestrator"].source == "base" and roles["orchestrator"].where.endswith("base.yaml:10")


def test_system_deployment_and_data_pipeline_roles():
    folders = search_path()
    assert [r.name for r in resolve("system_deployment", folders).roles][2:] == ["sysadmin", "devops", "securityops"]
    assert resolve("data_pipeline", folders).type == "data"


def test_inheritance_of_depth_four_changes_fields_by_name_and_removes(tmp_path):
    write(tmp_path, "a", """
        type: code
        manager: lead
        roles:
          - name: lead
            brief: "You lead; the team is <<team>>."
          - name: coder
            brief: "You code and report to <<manager>>."
            count: 3
            checkins: [{every: 1h, note: "hello <<self>>"}]
          - name: doomed
            brief: "x"
        """)
    write(tmp_path, "b", """
        inherits: a
        roles:
          - name: coder
            count: 2
        remove: [doomed]
        """)
    write(tmp_path, "c", "inherits: b\ntype: web\nroles:\n  - name: designer\n    brief: 'You design.'\n    worktree: false\n")
    write(tmp_path, "d", "inherits: c\nroles:\n  - name: coder\n    checkins: []\n")
    template = resolve("d", search_path(tmp_path))
    roles = {role.name: role for role in template.roles}
    assert template.chain == ("d", "c", "b", "a") and template.type == "web" and template.manager == "lead"
    assert list(roles) == ["lead", "coder", "designer"]
    assert roles["coder"].count == 2 and roles["coder"].brief == "You code and report to <<manager>>."
    assert roles["coder"].checkins == () and roles["coder"].source == "d"
    assert roles["designer"].worktree is False


def test_user_templates_shadow_builtins_by_name(tmp_path, monkeypatch):
    write(tmp_path / "mine", "code_project", "inherits: base\ntype: code\nroles:\n  - name: solo\n    brief: 'Alone.'\n")
    monkeypatch.setenv("ORCH_TEMPLATES", str(tmp_path / "mine"))
    folders = search_path()
    assert find("code_project", folders)[0] == "ORCH_TEMPLATES"
    assert [r.name for r in resolve("code_project", folders).roles] == ["orchestrator", "project_manager", "solo"]
    listed = {name: origin for name, origin, _ in available(folders)}
    assert listed["code_project"] == "ORCH_TEMPLATES" and listed["base"] == "built-in"


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", ".hidden", "UPPER", "", "x" * 41])
def test_template_names_cannot_be_paths(tmp_path, name):
    assert find(name, search_path(tmp_path)) is None
    assert "is not a template name" in errors(name, tmp_path)[0] or "no template" in errors(name, tmp_path)[0]


def test_a_cycle_names_the_chain_at_the_inherits_line(tmp_path):
    write(tmp_path, "x", "inherits: y\nroles: []\n")
    write(tmp_path, "y", "inherits: z\nroles: []\n")
    write(tmp_path, "z", "inherits: x\nroles: []\n")
    [message] = errors("x", tmp_path)
    assert message.startswith(f"{tmp_path / 'z.yaml'}:4:11: inherits: inheritance cycle: x -> y -> z -> x")


def test_a_missing_parent_is_reported_where_it_is_named(tmp_path):
    write(tmp_path, "child", "inherits: nowhere\nroles: []\n")
    [message] = errors("child", tmp_path)
    assert message.startswith(f"{tmp_path / 'child.yaml'}:4:11: inherits: the parent template 'nowhere' does not exist")
    assert "in chain child -> nowhere" in message


def test_depth_over_ten_is_an_error(tmp_path):
    write(tmp_path, "t0", "type: code\nroles: [{name: r, brief: 'x'}]\n")
    for n in range(1, MAX_DEPTH + 1):
        write(tmp_path, f"t{n}", f"inherits: t{n - 1}\nroles: []\n")
    resolve(f"t{MAX_DEPTH - 1}", search_path(tmp_path))  # ten templates in the chain: fine
    [message] = errors(f"t{MAX_DEPTH}", tmp_path)
    assert "inheritance deeper than 10" in message and message.startswith(str(tmp_path / "t1.yaml"))


def test_two_roles_of_one_name_unknown_fields_and_unresolved_placeholders(tmp_path):
    write(tmp_path, "dup", """
        roles:
          - name: dev
            brief: "a"
          - name: dev
            brief: "b"
        """)
    assert errors("dup", tmp_path) == [
        f"{tmp_path / 'dup.yaml'}:7:11: roles[1].name: role 'dev' is already defined at roles[0] "
        "(one entry per role; change fields in that entry)"]
    write(tmp_path, "unknown", "roles:\n  - name: dev\n    brief: a\n    cout: 2\n")
    [message] = errors("unknown", tmp_path)
    assert message.startswith(f"{tmp_path / 'unknown.yaml'}:7:5: roles[0].cout: unknown field")
    write(tmp_path, "holes", "roles:\n  - name: dev\n    brief: 'ask <<manager>> about <<ticket>> and {json}'\n")
    messages = errors("holes", tmp_path)
    assert any("unresolved placeholder <<ticket>>" in m for m in messages)
    assert any("unresolved placeholder <<manager>> (this template has no manager role" in m for m in messages)
    assert all(m.startswith(f"{tmp_path / 'holes.yaml'}:5:") for m in messages)


def test_an_error_in_a_parent_names_the_childs_chain(tmp_path):
    write(tmp_path, "parent", "roles:\n  - name: dev\n    brief: a\n    count: 0\n")
    write(tmp_path, "kid", "inherits: parent\nroles: []\n")
    [message] = errors("kid", tmp_path)
    assert message.startswith(f"{tmp_path / 'parent.yaml'}:7:12: roles[0].count:")
    assert message.endswith("(in chain kid -> parent)")


def test_removing_a_role_the_parent_lacks_and_a_new_role_without_brief(tmp_path):
    write(tmp_path, "p", "roles: [{name: dev, brief: a}]\n")
    write(tmp_path, "k", "inherits: p\nremove: [qa]\nroles: [{name: ops, count: 2}]\n")
    messages = errors("k", tmp_path)
    assert any("cannot remove 'qa': the parent has no such role (its roles: dev)" in m for m in messages)
    assert any("new role 'ops' needs a brief" in m for m in messages)


def test_the_builtins_are_found_beside_the_package():
    assert (builtin_dir() / "base.yaml").is_file()
