"""Detection on generated trees: the labelled table, the hard cases, exclusions and .gitattributes."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest

from reconciler.teams.detect import detect, exclude, parse_gitattributes, score
from reconciler.teams.templates import search_path
from tests.unit.layouts import HELD_OUT, LAYOUTS, write_tree


def _detect_tree(root: Path, files) -> object:
    write_tree(root, files)
    return detect(root)


def test_the_labelled_table_is_at_least_90_percent_right(tmp_path, capsys):
    confusions: Counter = Counter()
    right = 0
    for index, (name, label, files) in enumerate(LAYOUTS + HELD_OUT):
        result = _detect_tree(tmp_path / str(index), files)
        if result.type == label:
            right += 1
        else:
            confusions[(label, result.type)] += 1
            print(f"confused: {name}: {label} detected as {result.type} ({result.scores})")
    total = len(LAYOUTS) + len(HELD_OUT)
    assert len(LAYOUTS) >= 30
    print(f"accuracy {right}/{total} = {right / total:.0%}; confusions {dict(confusions)}")
    assert right / total >= 0.9, capsys.readouterr().out


@pytest.mark.parametrize("name", [
    "go service with Dockerfile and its own Helm chart", "terraform module with go tests",
    "python data pipeline (airflow, pandas, sql)", "notebook-heavy research repo",
    "backend monorepo: go and python services, small admin ui", "go program vendoring its dependencies",
    "project with a .gitattributes-vendored copy of another project"])
def test_hard_cases(tmp_path, name):
    layout = {n: (label, files) for n, label, files in LAYOUTS}
    label, files = layout[name]
    assert _detect_tree(tmp_path, files).type == label


def test_the_result_carries_confidence_runner_up_and_evidence(tmp_path):
    layout = {n: files for n, _, files in LAYOUTS}
    result = _detect_tree(tmp_path, layout["go service with Dockerfile and its own Helm chart"])
    assert result.runner_up == "infrastructure"
    assert 0.5 < result.confidence < 1
    signals = {(e.type, e.signal) for e in result.evidence}
    assert ("infrastructure", "helm chart") in signals and ("code", "language manifest") in signals
    assert any(e.files == ("charts/svc/Chart.yaml",) for e in result.evidence)
    document = result.as_dict()
    assert {"type", "template", "confidence", "runner_up", "evidence"} <= set(document)


def test_git_repositories_are_read_from_git_ls_files_honouring_gitignore(tmp_path):
    write_tree(tmp_path, {".gitignore": "build/\n", "main.tf": "", "variables.tf": "",
                          **{f"build/gen{n}.py": "" for n in range(50)}})
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    result = detect(tmp_path)
    assert result.source == "git" and result.type == "infrastructure"
    assert result.files_total == 3  # .gitignore, main.tf, variables.tf: untracked but not ignored


def test_linguist_exclusions_and_gitattributes_overrides():
    paths = ["node_modules/x/index.js", "vendor/lib/a.go", "dist/app.min.js", "package-lock.json", "api_pb2.py",
             "docs/guide.md", "README.md", "src/main.py", "extern/keep/me.py", "src/big.generated.ts"]
    rules = parse_gitattributes("extern/keep/** -linguist-vendored\nsrc/main.py linguist-generated\n"
                                "*.generated.ts linguist-generated=false\n")
    kept, counts, documentation = exclude(paths, rules)
    assert kept == ["extern/keep/me.py", "src/big.generated.ts"]
    assert counts == {"vendored": 3, "generated": 3, "documentation": 2}
    assert documentation == ("docs/guide.md", "README.md")


def test_an_empty_tree_is_code_with_no_confidence():
    result = score([], {})
    assert (result.type, result.confidence, result.runner_up) == ("code", 0.0, None)


def test_detection_names_the_template_serving_each_type(tmp_path):
    result = detect(_tree(tmp_path, {"dbt_project.yml": "", "models/staging/a.sql": ""}), search_path())
    assert (result.type, result.template) == ("data", "data_pipeline")


def _tree(root: Path, files) -> Path:
    write_tree(root, files)
    return root
