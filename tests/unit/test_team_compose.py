"""Composition (template roles -> agents, manifest agents over them) and refinement, on plain data."""

from __future__ import annotations

import json

import pytest

from reconciler.teams.compose import agent_names, merge_agents, substitute, team_agents
from reconciler.teams.detect import Detection, choose_team
from reconciler.teams.refine import ENABLE, apply_answer, refine_team, registry
from reconciler.teams.templates import Role, resolve, search_path


def role(name: str, count: int = 1, **fields) -> Role:
    return Role(name=name, description="", brief=fields.pop("brief", "I am <<self>>"), count=count,
                worktree=fields.pop("worktree", True), checkins=fields.pop("checkins", ()), source="t", where="t.yaml:1")


@pytest.mark.parametrize("name, count, expected", [
    ("developer", 1, ["developer"]), ("developer", 2, ["developer-1", "developer-2"]),
    ("project_manager", 1, ["project-manager"]), ("data_engineer", 3, ["data-engineer-1", "data-engineer-2", "data-engineer-3"]),
])
def test_agent_names(name, count, expected):
    assert agent_names(role(name, count)) == expected


MERGE_CASES = [
    # (written agents, expected names, expected (name -> field -> value))
    ([], ["lead", "dev-1", "dev-2"], {}),
    ([{"name": "dev-2", "brief": "mine"}], ["lead", "dev-1", "dev-2"], {"dev-2": {"brief": "mine", "worktree": True}}),
    ([{"name": "boss", "role": "lead", "command": "x"}], ["boss", "dev-1", "dev-2"], {"boss": {"command": "x", "role": "lead"}}),
    ([{"name": "dev", "role": "dev"}], ["lead", "dev-1", "dev-2", "dev"], {}),  # two hold the role: an extra agent
    ([{"name": "lead", "worktree": True}, {"name": "other", "role": "lead"}], ["lead", "dev-1", "dev-2", "other"],
     {"lead": {"worktree": True}}),  # the name match wins; the role is no longer free
    ([{"name": "qa"}], ["lead", "dev-1", "dev-2", "qa"], {"qa": {"name": "qa"}}),
]


@pytest.mark.parametrize("written, names, fields", MERGE_CASES)
def test_manifest_agents_override_by_name_or_single_role_and_extend(written, names, fields):
    composed, origins = team_agents(_template([role("lead", worktree=False), role("dev", 2)]))
    agents, merged, index = merge_agents(composed, origins, written)
    assert [a["name"] for a in agents] == names
    for name, expected in fields.items():
        agent = next(a for a in agents if a["name"] == name)
        assert {k: agent.get(k) for k in expected} == expected
    assert len(merged) == len(index) == len(agents)
    assert [i for i in index if i is not None] == sorted(range(len(written)))


def test_substitute_fills_known_placeholders_and_leaves_braces_alone():
    text, unknown = substitute('Tell <<manager>> {"json": 1} ${HOME} {{jinja}} <<nope>>', {"manager": "pm"})
    assert text == 'Tell pm {"json": 1} ${HOME} {{jinja}} <<nope>>' and unknown == ["<<nope>>"]


def test_an_ambiguous_detection_adds_the_runner_ups_distinctive_roles():
    folders = search_path()
    detection = Detection("code", 0.52, "infrastructure", {"code": 5.0, "infrastructure": 4.6}, (), 10, 10, {},
                          template="code_project", runner_up_template="system_deployment")
    template, extra, summary = choose_team(detection, folders)
    assert template.name == "code_project"
    assert [r.name for r in extra] == ["sysadmin", "devops", "securityops"] and all(r.count == 1 for r in extra)
    assert "ambiguous" in summary and "system_deployment" in summary
    clear = Detection("code", 0.9, "infrastructure", {}, (), 10, 10, {}, template="code_project",
                      runner_up_template="system_deployment")
    assert choose_team(clear, folders)[1] == ()


class StandIn:
    """A provider that answers what the test says, and counts the questions."""

    name = "stand-in"

    def __init__(self, answer: str):
        self.answer, self.prompts = answer, []

    def suggest(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return self.answer


def test_refinement_is_validated_against_the_role_registry_bounded_and_cached(tmp_path):
    folders = search_path()
    (tmp_path / "README.md").write_text("# Shop\nAn online shop with a Terraform deployment.\n")
    (tmp_path / "main.go").write_text("")
    template = resolve("code_project", folders)
    answer = json.dumps({"roles": [{"name": "developer", "count": 99}, {"name": "devops"}, {"name": "wizard"},
                                   {"name": "tester", "count": "two"}], "reason": "it deploys itself"})
    provider = StandIn(answer)
    refined, note = refine_team(template, tmp_path, folders, provider=provider, cache_dir=tmp_path / "cache")
    roles = {r.name: r for r in refined.roles}
    assert list(roles) == ["project_manager", "developer", "devops", "tester"]  # the manager is kept
    assert roles["developer"].count == 4 and roles["tester"].count == 1 and roles["devops"].source == "system_deployment"
    assert "unknown roles dropped: wizard" in note and "+devops" in note and "-orchestrator" in note
    assert "An online shop" in provider.prompts[0] and "main.go" in provider.prompts[0]
    again, _ = refine_team(template, tmp_path, folders, provider=provider, cache_dir=tmp_path / "cache")
    assert len(provider.prompts) == 1 and again == refined  # cached by what was asked
    assert (next((tmp_path / "cache").iterdir()).stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize("answer", ["no json here", '{"roles": "all"}', "[1, 2]"])
def test_an_unusable_answer_keeps_the_rule_based_team(answer):
    folders = search_path()
    template = resolve("code_project", folders)
    refined, note = apply_answer(template, registry(folders), answer)
    assert refined == template and "rule-based" in note


def test_without_a_key_or_model_orch_says_how_to_enable(tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    template = resolve("code_project", search_path())
    assert refine_team(template, tmp_path, search_path()) == (template, ENABLE)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    monkeypatch.delenv("ORCH_AI_MODEL", raising=False)
    assert refine_team(template, tmp_path, search_path()) == (template, ENABLE)


def test_the_anthropic_provider_talks_to_the_messages_api(tmp_path, monkeypatch):
    import anthropic  # noqa: F401  (the test extra installs it: a missing SDK fails here, it never skips)

    from tests.realclaude.standin_api import StandinAPI

    with StandinAPI() as api:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        monkeypatch.setenv("ORCH_HOME", str(tmp_path / "home"))
        folders = search_path()
        template = resolve("code_project", folders)
        refined, note = refine_team(template, tmp_path, folders, model="model-from-config")
        [request] = api.message_requests()
    assert request["body"]["model"] == "model-from-config"
    assert "You choose the team" in request["body"]["messages"][0]["content"]
    # the stand-in answers "ok: ...", not JSON: orch says so and keeps the rules
    assert refined == template and "not the JSON asked for" in note


def _template(roles):
    from reconciler.teams.templates import Template

    return Template(name="t", type="code", description="", manager="lead", chain=("t",), roles=tuple(roles), path="t.yaml")
