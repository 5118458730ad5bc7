# Two entry points for a newcomer:
#   make demo   the quickstart: three toy agents, a message each, then a watcher keeping them alive,
#               a check-in on time, a worktree following upstream, the board and the metrics
#   make test   the import contracts, ruff, mypy, then the whole test suite (needs tmux and git; .ci/run installs them)
# Both honour ORCH_HOME and ORCH_TMUX_SOCKET when set; otherwise the demo keeps to itself
# (state in .orch-demo/, its own tmux server "orch-demo").

VENV ?= .venv
PYTHON ?= python3
BIN := $(abspath $(VENV))/bin
ORCH := $(BIN)/orch
QUICKSTART := examples/quickstart/orch.yaml

export PATH := $(BIN):$(PATH)
export ORCH_HOME ?= $(abspath .orch-demo)
export ORCH_TMUX_SOCKET ?= orch-demo

.PHONY: demo test install install-test demo-clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install -q -e .

install-test: $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'

demo: install
	@echo "== orch plan: what apply would do"
	$(ORCH) plan $(QUICKSTART)
	@echo "== orch apply: converge tmux to the manifest (briefs are delivered once)"
	$(ORCH) apply $(QUICKSTART)
	@echo "== orch send: a message to each agent, verified on its screen"
	$(ORCH) send quickstart/pm "Hello pm, what is the plan for today?"
	$(ORCH) send quickstart/dev "Hello dev, please start on the login page."
	$(ORCH) send quickstart/qa "Hello qa, which regressions should we watch?"
	@echo "== what the agents answered (orch logs AGENT)"
	@for agent in pm dev qa; do $(ORCH) logs quickstart/$$agent --lines 4; done
	@$(BIN)/python examples/quickstart/demo.py
	@echo
	@echo "Attach:    tmux -L $(ORCH_TMUX_SOCKET) attach -t $$($(ORCH) status quickstart -o json | $(BIN)/python -c 'import json,sys; print(json.load(sys.stdin)["projects"][0]["session"])')"
	@echo "Re-apply:  $(ORCH) apply $(QUICKSTART)   (changes nothing: the plan is empty)"
	@echo "Clean up:  make demo-clean   (stops the watcher, destroys both projects)"

demo-clean:
	-tmux -L $(ORCH_TMUX_SOCKET) kill-session -t =orch-watch
	-$(ORCH) destroy quickstart --yes
	-$(ORCH) destroy shop --yes

test: install-test
	$(BIN)/lint-imports
	$(BIN)/ruff check reconciler tests benchmarks
	$(BIN)/mypy reconciler
	$(BIN)/python -m pytest
