"""Which projects a watcher wake-up converges: plain data, no watcher."""

from __future__ import annotations

import pytest

from reconciler.watch import LOOKAHEAD_S, projects_to_pass

NOW = 1_000.0
WATCHED = ["shop", "blog", "wiki"]
DUE = {"shop": NOW - 0.1, "blog": NOW + 60, "wiki": NOW + LOOKAHEAD_S / 2}


@pytest.mark.parametrize("due, delivered, every_project, expected", [
    (DUE, set(), True, WATCHED),  # a poke, tmux's hook, a death or the resync: everything
    (DUE, set(), False, ["shop", "wiki"]),  # only what is due (within the look-ahead)
    (DUE, {"blog"}, False, ["shop", "blog", "wiki"]),  # a lane finished: its project plans what follows
    ({"shop": NOW + 5}, set(), False, ["blog", "wiki"]),  # never passed yet: passed now
    ({n: NOW + 60 for n in WATCHED}, set(), False, []),  # a spurious wake-up costs nothing
])
def test_projects_to_pass(due, delivered, every_project, expected):
    assert projects_to_pass(WATCHED, due, delivered, every_project, NOW) == expected
