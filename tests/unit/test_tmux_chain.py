"""Chains of tmux commands stay within what tmux accepts in one message; a group is never split."""

from __future__ import annotations

from reconciler.runtime.tmux import MAX_CHAIN_BYTES, batches, chain, chain_bytes


def test_chain_bytes_counts_every_argument_with_its_nul_and_the_separators():
    commands = [["new-window", "-n", "a"], ["set-option", "x;"]]
    assert chain(commands) == ["new-window", "-n", "a", ";", "set-option", "x\\;"]
    assert chain_bytes(commands) == sum(len(arg) + 1 for arg in chain(commands))


def test_groups_fill_a_batch_up_to_the_limit_in_order():
    group = [["new-window", "-n", "x" * 40], ["set-option", "-p", "@orch_agent", "x" * 40]]
    weight = chain_bytes(group) + 2
    assert batches([group] * 10, limit=weight * 4) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches([group] * 3) == [[0, 1, 2]]
    assert batches([]) == []


def test_a_group_over_the_limit_goes_alone():
    small, huge = [["a"]], [["b", "x" * MAX_CHAIN_BYTES]]
    assert batches([small, huge, small]) == [[0], [1], [2]]
