"""A labelled table of realistic repository layouts, generated as trees (file names, a little content).

Each layout is (name, expected type, files); files map a path to its content, and a path with
"{}" stands for several numbered files: ("src/handlers/h{}.go", 12) makes h1.go .. h12.go.
The labels are what a person reading the repository would call it, not what the rules say.
"""

from __future__ import annotations

from pathlib import Path

Files = dict[str, str]


def many(pattern: str, count: int, content: str = "") -> Files:
    return {pattern.format(n): content for n in range(1, count + 1)}


GO_MOD = "module example.com/svc\n\ngo 1.22\n"
PY_PROJECT = '[project]\nname = "app"\ndependencies = ["requests", "click"]\n[project.scripts]\napp = "app.cli:main"\n'

LAYOUTS: list[tuple[str, str, Files]] = [
    # -- code ---------------------------------------------------------------------------------
    ("go service with Dockerfile and its own Helm chart", "code", {
        "go.mod": GO_MOD, "go.sum": "", "cmd/svc/main.go": "package main", "Dockerfile": "FROM golang",
        **many("internal/api/handler{}.go", 14), **many("internal/store/store{}.go", 6),
        **many("internal/api/handler{}_test.go", 8), "charts/svc/Chart.yaml": "apiVersion: v2",
        "charts/svc/values.yaml": "", **many("charts/svc/templates/t{}.yaml", 5), "README.md": "# svc",
        ".github/workflows/ci.yml": "on: push"}),
    ("python cli tool", "code", {
        "pyproject.toml": PY_PROJECT, "src/app/__init__.py": "", "src/app/cli.py": "", "src/app/__main__.py": "",
        **many("src/app/cmd{}.py", 8), **many("tests/test_cmd{}.py", 6), "README.md": ""}),
    ("rust binary", "code", {
        "Cargo.toml": '[package]\nname = "tool"\n', "Cargo.lock": "", "src/main.rs": "", **many("src/mod{}.rs", 10),
        **many("tests/it{}.rs", 3)}),
    ("java spring service", "code", {
        "pom.xml": "<project/>", "mvnw": "", **many("src/main/java/com/acme/svc/C{}.java", 25),
        **many("src/test/java/com/acme/svc/C{}Test.java", 10), "src/main/resources/application.yml": "",
        "Dockerfile": ""}),
    ("c++ project with cmake", "code", {
        "CMakeLists.txt": "", **many("src/f{}.cpp", 20), **many("include/f{}.hpp", 20), **many("tests/t{}.cpp", 5),
        "third_party/googletest/CMakeLists.txt": "", **many("third_party/googletest/src/g{}.cc", 40)}),
    ("node backend api (express, typescript)", "code", {
        "package.json": '{"dependencies": {"pg": "8", "zod": "3"}}', "package-lock.json": "", "tsconfig.json": "",
        **many("src/routes/r{}.ts", 12), **many("src/db/q{}.ts", 6), "src/main.ts": "", **many("test/r{}.test.ts", 6),
        "Dockerfile": ""}),
    ("ruby gem-less rails-free worker", "code", {
        "Gemfile": "source 'https://rubygems.org'\ngem 'sidekiq'\n", "Gemfile.lock": "",
        **many("app/workers/w{}.rb", 10), **many("spec/w{}_spec.rb", 5)}),
    ("backend monorepo: go and python services, small admin ui", "code", {
        "services/api/go.mod": GO_MOD, **many("services/api/internal/h{}.go", 20), "services/api/cmd/api/main.go": "",
        "services/worker/pyproject.toml": PY_PROJECT, **many("services/worker/worker/j{}.py", 15),
        **many("services/worker/tests/test_j{}.py", 5), "ui/package.json": '{"dependencies": {"react": "18"}}',
        **many("ui/src/P{}.tsx", 6), **many("deploy/k8s/api{}.yaml", 4), "services/api/Dockerfile": "",
        "services/worker/Dockerfile": "", "Makefile": ""}),
    ("go program vendoring its dependencies", "code", {
        "go.mod": GO_MOD, "main.go": "", **many("pkg/p{}.go", 8), **many("vendor/github.com/x/y/f{}.go", 300),
        "vendor/modules.txt": ""}),
    ("python app vendoring a terraform provider and a js widget", "code", {
        "pyproject.toml": PY_PROJECT, **many("app/m{}.py", 12), "app/__main__.py": "",
        **many("third_party/tfprovider/r{}.tf", 60), **many("third_party/widget/w{}.jsx", 40),
        **many("tests/test_m{}.py", 4)}),
    ("project with a .gitattributes-vendored copy of another project", "code", {
        ".gitattributes": "libs/upstream/** linguist-vendored\ngen/** linguist-generated=true\n",
        "go.mod": GO_MOD, "cmd/tool/main.go": "", **many("internal/x{}.go", 10),
        **many("libs/upstream/n{}.ipynb", 50), **many("gen/api{}.sql", 80)}),
    # -- web ----------------------------------------------------------------------------------
    ("next.js application", "web", {
        "package.json": '{"dependencies": {"next": "14", "react": "18"}}', "next.config.js": "", "tsconfig.json": "",
        **many("app/page{}.tsx", 10), **many("components/C{}.tsx", 20), **many("styles/s{}.css", 4),
        "public/favicon.ico": "", **many("lib/l{}.ts", 5)}),
    ("django site", "web", {
        "manage.py": "", "requirements.txt": "django==5.0\npsycopg\n", **many("shop/m{}.py", 10),
        **many("shop/templates/shop/p{}.html", 12), **many("static/css/s{}.css", 3), **many("shop/tests/test_{}.py", 4)}),
    ("vue single page app with vite", "web", {
        "package.json": '{"dependencies": {"vue": "3"}}', "vite.config.ts": "", "index.html": "",
        **many("src/components/C{}.vue", 18), **many("src/store/s{}.ts", 4), "src/main.ts": ""}),
    ("rails application", "web", {
        "Gemfile": "gem 'rails', '~> 7.1'\n", **many("app/models/m{}.rb", 10), **many("app/controllers/c{}.rb", 8),
        **many("app/views/v{}.html.erb", 20), **many("app/assets/stylesheets/s{}.scss", 3), "config/routes.rb": ""}),
    ("typescript turborepo of web apps", "web", {
        "package.json": '{"devDependencies": {"turbo": "1"}}', "turbo.json": "",
        "apps/web/package.json": '{"dependencies": {"next": "14", "react": "18"}}', "apps/web/next.config.mjs": "",
        **many("apps/web/app/p{}.tsx", 15), "apps/docs/package.json": '{"dependencies": {"next": "14"}}',
        **many("apps/docs/app/d{}.tsx", 6), **many("packages/ui/src/B{}.tsx", 12), **many("packages/config/c{}.js", 3)}),
    ("flask api with jinja pages", "web", {
        "requirements.txt": "flask\nsqlalchemy\n", "app.py": "", **many("views/v{}.py", 6),
        **many("templates/p{}.html", 10), **many("static/js/j{}.js", 4), **many("static/css/c{}.css", 2)}),
    # -- library ------------------------------------------------------------------------------
    ("python library with src layout and docs", "library", {
        "pyproject.toml": '[project]\nname = "fastjson"\n', "src/fastjson/__init__.py": "",
        **many("src/fastjson/m{}.py", 10), **many("tests/test_m{}.py", 8), **many("docs/p{}.rst", 10),
        "CHANGELOG.md": "", "README.md": ""}),
    ("rust library crate", "library", {
        "Cargo.toml": '[package]\nname = "parse"\n', "src/lib.rs": "", **many("src/m{}.rs", 12),
        **many("tests/t{}.rs", 4), **many("examples/e{}.rs", 3), "CHANGELOG.md": ""}),
    # -- data ---------------------------------------------------------------------------------
    ("python data pipeline (airflow, pandas, sql)", "data", {
        "requirements.txt": "apache-airflow==2.9\npandas\nsqlalchemy\n", **many("dags/d{}.py", 6),
        **many("pipeline/extract{}.py", 5), **many("pipeline/transform{}.py", 5), "pipeline/load.py": "",
        **many("sql/q{}.sql", 8), **many("tests/test_t{}.py", 4), "Dockerfile": "", "docker-compose.yml": ""}),
    ("dbt project", "data", {
        "dbt_project.yml": "", "profiles.yml": "", **many("models/staging/stg_{}.sql", 15),
        **many("models/marts/m{}.sql", 8), **many("models/staging/s{}.yml", 3), **many("macros/mc{}.sql", 4),
        "packages.yml": "", **many("seeds/s{}.csv", 3)}),
    ("kedro project", "data", {
        "pyproject.toml": '[project]\ndependencies = ["kedro", "pandas"]\n', "conf/base/catalog.yml": "",
        "conf/base/parameters.yml": "", **many("src/proj/pipelines/p{}/nodes.py", 4),
        **many("src/proj/pipelines/p{}/pipeline.py", 4), "src/proj/__init__.py": "", **many("notebooks/n{}.ipynb", 2)}),
    ("spark etl jobs", "data", {
        "requirements.txt": "pyspark==3.5\n", **many("etl/job{}.py", 10), **many("etl/sql/q{}.sql", 6),
        "setup.py": "", **many("tests/test_job{}.py", 4)}),
    ("dvc-tracked data pipeline", "data", {
        "dvc.yaml": "", "params.yaml": "", **many("data/raw/r{}.csv.dvc", 4), **many("src/stages/s{}.py", 6),
        "requirements.txt": "pandas\npolars\n", **many("pipelines/p{}.py", 3)}),
    ("dagster assets repo", "data", {
        "pyproject.toml": '[project]\ndependencies = ["dagster", "pandas"]\n', **many("assets/a{}.py", 10),
        **many("sql/s{}.sql", 6), "workspace.yaml": ""}),
    # -- research -----------------------------------------------------------------------------
    ("notebook-heavy research repo", "research", {
        "requirements.txt": "jupyter\nmatplotlib\nscikit-learn\npandas\n", **many("notebooks/0{}_explore.ipynb", 14),
        **many("src/utils{}.py", 3), **many("data/d{}.csv", 5), "README.md": ""}),
    ("ml experiments with a paper", "research", {
        "environment.yml": "dependencies:\n  - pytorch\n  - matplotlib\n  - jupyter\n", **many("experiments/e{}/train.py", 5),
        **many("experiments/e{}/config.yaml", 5), "paper/main.tex": "", "paper/refs.bib": "",
        **many("paper/sections/s{}.tex", 6), **many("analysis/a{}.ipynb", 5)}),
    ("R analysis project", "research", {
        **many("analysis/a{}.Rmd", 8), **many("R/f{}.R", 6), **many("data/d{}.csv", 4), "renv.lock": ""}),
    # -- infrastructure -----------------------------------------------------------------------
    ("terraform module with go tests", "infrastructure", {
        "main.tf": "", "variables.tf": "", "outputs.tf": "", "versions.tf": "", **many("modules/net/n{}.tf", 4),
        **many("examples/basic/e{}.tf", 2), "test/go.mod": GO_MOD, **many("test/module{}_test.go", 3),
        ".terraform.lock.hcl": "", "README.md": ""}),
    ("ansible playbooks", "infrastructure", {
        "ansible.cfg": "", "site.yml": "", "inventory/hosts.ini": "", **many("roles/r{}/tasks/main.yml", 8),
        **many("roles/r{}/handlers/main.yml", 4), **many("roles/r{}/templates/c.conf.j2", 4),
        **many("group_vars/g{}.yml", 3), "requirements.yml": ""}),
    ("kubernetes gitops repo with kustomize and helm", "infrastructure", {
        **many("clusters/prod/k{}.yaml", 6), **many("apps/base/a{}/kustomization.yaml", 5),
        **many("apps/base/a{}/deployment.yaml", 5), **many("apps/overlays/prod/p{}.yaml", 5),
        "charts/platform/Chart.yaml": "", **many("charts/platform/templates/t{}.yaml", 8)}),
    ("pulumi typescript stack", "infrastructure", {
        "Pulumi.yaml": "", "Pulumi.dev.yaml": "", "Pulumi.prod.yaml": "", "index.ts": "", **many("infra/r{}.ts", 4),
        "package.json": '{"dependencies": {"@pulumi/aws": "6"}}'}),
    ("packer images and terraform live config", "infrastructure", {
        **many("images/i{}.pkr.hcl", 4), **many("live/prod/s{}/terragrunt.hcl", 6), **many("live/prod/s{}/main.tf", 6),
        **many("scripts/setup{}.sh", 3)}),
    ("cloudformation templates with a lambda", "infrastructure", {
        **many("cloudformation/stack{}.yaml", 8), "lambda/handler.py": "", "Makefile": ""}),
    ("terraform platform monorepo with a few python tools", "infrastructure", {
        **many("envs/prod/{}.tf", 20), **many("envs/staging/{}.tf", 20), **many("modules/m{}/main.tf", 10),
        **many("tools/t{}.py", 5), "tools/requirements.txt": "boto3\n", "Dockerfile": ""}),
]


def write_tree(root: Path, files: Files) -> None:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


# Written after the rules were tuned on LAYOUTS, and not tuned on: the honest accuracy figure.
HELD_OUT: list[tuple[str, str, Files]] = [
    ("php laravel app", "web", {
        "composer.json": '{"require": {"laravel/framework": "^11"}}', "artisan": "", **many("app/Http/Controllers/C{}.php", 8),
        **many("app/Models/M{}.php", 6), **many("resources/views/v{}.blade.php", 10), **many("resources/css/c{}.css", 2),
        "routes/web.php": "", "vendor/autoload.php": "", **many("vendor/symfony/x/f{}.php", 200)}),
    ("elixir service", "code", {"mix.exs": "", **many("lib/svc/m{}.ex", 15), **many("test/m{}_test.exs", 6)}),
    ("go cli with goreleaser and docs site", "code", {
        "go.mod": GO_MOD, "main.go": "", **many("cmd/c{}.go", 10), **many("internal/i{}.go", 10),
        ".goreleaser.yaml": "", **many("docs/d{}.md", 30), **many("website/src/p{}.tsx", 4)}),
    ("airflow dags repo with sql and a Dockerfile for the image", "data", {
        "requirements.txt": "apache-airflow\napache-airflow-providers-postgres\n", **many("dags/dag_{}.py", 20),
        **many("include/sql/q{}.sql", 15), "Dockerfile": "", **many("plugins/op{}.py", 3)}),
    ("jupyter book of lectures", "research", {
        "requirements.txt": "jupyter-book\nmatplotlib\nnumpy\n", **many("lectures/l{}.ipynb", 20), "_config.yml": "",
        "_toc.yml": "", **many("lectures/img{}.png", 10)}),
    ("helm charts repository", "infrastructure", {
        **many("charts/c{}/Chart.yaml", 6), **many("charts/c1/templates/t{}.yaml", 8), **many("charts/c2/templates/t{}.yaml", 8),
        **many("charts/c{}/values.yaml", 6), ".github/workflows/release.yml": ""}),
    ("typescript library on npm", "library", {
        "package.json": '{"name": "tiny-lib", "main": "dist/index.js"}', "src/index.ts": "", **many("src/u{}.ts", 10),
        **many("test/u{}.test.ts", 6), "CHANGELOG.md": "", "tsconfig.json": "", **many("dist/u{}.js", 10)}),
    ("python ml service (fastapi serving a model)", "web", {
        "requirements.txt": "fastapi\nuvicorn\nscikit-learn\n", "app/main.py": "", **many("app/routes/r{}.py", 5),
        **many("app/models/m{}.py", 3), "Dockerfile": "", **many("tests/test_r{}.py", 3)}),
    ("ansible collection with python modules", "infrastructure", {
        "galaxy.yml": "", **many("roles/r{}/tasks/main.yml", 6), **many("roles/r{}/defaults/main.yml", 6),
        **many("plugins/modules/m{}.py", 5), **many("playbooks/p{}.yml", 3)}),
    ("bioinformatics snakemake analysis", "research", {
        "Snakefile": "", "environment.yaml": "dependencies:\n  - pandas\n  - matplotlib\n  - scipy\n",
        **many("scripts/s{}.py", 6), **many("notebooks/n{}.ipynb", 6), **many("config/c{}.yaml", 2),
        **many("results/r{}.tsv", 4)}),
]
