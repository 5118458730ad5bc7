#!/usr/bin/env python3
"""How long does team detection take on a 50,000-file tree, against merely listing it?

    .venv/bin/python benchmarks/bench_detect.py [--files N] [--runs R] [--json]

Generates a realistic monorepo of N files (default 50,000) in a temporary folder: Go and
Python services with tests, a TypeScript web app, Terraform and Helm, SQL, notebooks, docs,
and the bulk a large project carries that detection must leave out (vendor/, node_modules/,
third_party/, minified and generated files, lock files). Then, each a median of R runs
(default 7), in this process:

  git       reconciler.teams.detect.detect(DIR) on the tree as a git repository (files added
            to the index), against the baseline: one plain `git ls-files -z` of the same tree
  walk      the same on a copy that is not a repository (a pruned walk), against a plain
            os.walk of every file
  cli       `orch team detect DIR` as a process (start-up, templates and detection), once

The contract is under 1 s on a 50,000-file tree (DESIGN.md section 5).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reconciler.teams.detect import detect  # noqa: E402

MIX = (  # (pattern, share of the tree)
    ("services/api{}/internal/h{}.go", 0.10), ("services/api{}/internal/h{}_test.go", 0.04),
    ("services/worker{}/worker/j{}.py", 0.08), ("services/worker{}/tests/test_j{}.py", 0.03),
    ("web/src/components/C{}{}.tsx", 0.08), ("web/src/styles/s{}{}.css", 0.02),
    ("infra/terraform/m{}/r{}.tf", 0.03), ("infra/charts/c{}/templates/t{}.yaml", 0.02),
    ("analytics/sql/q{}{}.sql", 0.02), ("research/notebooks/n{}{}.ipynb", 0.01), ("docs/p{}/d{}.md", 0.04),
    ("vendor/github.com/o{}/lib/f{}.go", 0.20), ("web/node_modules/pkg{}/index{}.js", 0.25),
    ("third_party/engine{}/src/e{}.cc", 0.05), ("web/public/js/app{}.{}.min.js", 0.01),
    ("gen/proto{}/api{}_pb2.py", 0.02),
)
FIXED = {"services/api1/go.mod": "module x\n", "services/api1/cmd/api/main.go": "", "web/package.json":
         '{"dependencies": {"react": "18", "next": "14"}}', "web/next.config.js": "",
         "services/worker1/pyproject.toml": '[project]\ndependencies = ["pandas"]\n', "web/package-lock.json": "",
         "infra/charts/c1/Chart.yaml": "", "README.md": "# mono\n"}


def make_tree(root: Path, total: int) -> int:
    made = 0
    for pattern, share in MIX:
        count = int(total * share)
        for n in range(count):
            path = root / pattern.format(n // 200, n)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        made += count
    for name, text in FIXED.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    made += len(FIXED)
    for n in range(total - made):
        (root / "misc").mkdir(exist_ok=True)
        (root / "misc" / f"extra{n}.txt").touch()
    return total


def median_seconds(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict = {"files": args.files, "runs": args.runs}
    with tempfile.TemporaryDirectory(prefix="orch-bench-detect-") as folder:
        repo = Path(folder) / "repo"
        repo.mkdir()
        make_tree(repo, args.files)
        walked = Path(folder) / "plain"
        shutil.copytree(repo, walked)
        env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": folder}
        subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=env)
        os.environ.update({"GIT_CONFIG_NOSYSTEM": "1", "HOME": folder})

        result = detect(repo)
        results["detected"] = {"type": result.type, "confidence": result.confidence, "runner_up": result.runner_up,
                               "scored": result.files_scored, "excluded": result.excluded, "source": result.source}
        git_detect = median_seconds(lambda: detect(repo), args.runs)
        git_list = median_seconds(lambda: subprocess.run(["git", "-C", str(repo), "ls-files", "-z"],
                                                         capture_output=True, check=True), args.runs)
        walk_detect = median_seconds(lambda: detect(walked), args.runs)
        walk_list = median_seconds(lambda: [len(names) for _, _, names in os.walk(walked)], args.runs)
        start = time.perf_counter()
        cli = subprocess.run([str(Path(sys.executable).parent / "orch"), "team", "detect", str(repo)],
                             capture_output=True, text=True)
        cli_seconds = time.perf_counter() - start
        assert cli.returncode == 0, cli.stderr
    results.update({
        "git": {"detect_s": git_detect, "git_ls_files_s": git_list, "ratio": git_detect / git_list},
        "walk": {"detect_s": walk_detect, "os_walk_s": walk_list, "ratio": walk_detect / walk_list},
        "cli_s": cli_seconds, "target_s": 1.0,
    })
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    d = results["detected"]
    print(f"tree: {args.files} files; detected {d['type']} (confidence {d['confidence']}, runner-up "
          f"{d['runner_up']}), {d['scored']} scored, left out {d['excluded']}")
    print(f"git  : detect {git_detect * 1000:7.1f} ms   plain git ls-files {git_list * 1000:7.1f} ms   "
          f"ratio {git_detect / git_list:5.1f}x")
    print(f"walk : detect {walk_detect * 1000:7.1f} ms   plain os.walk      {walk_list * 1000:7.1f} ms   "
          f"ratio {walk_detect / walk_list:5.1f}x")
    print(f"cli  : orch team detect {cli_seconds * 1000:7.1f} ms (one run, with start-up and templates)")
    print(f"target: under 1 s -> {'met' if max(git_detect, walk_detect, cli_seconds) < 1.0 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
