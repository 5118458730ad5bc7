"""kill -9 the watcher at random moments while check-ins are due: nothing typed twice, nothing lost.

A shorter run of benchmarks/fault_kill_watcher.py (the same code): 3 toy agents with check-ins
every 2 s, 8 kills on a seeded schedule, on a private tmux server with its own ORCH_HOME.
Submissions are counted from the agents' own logs. The tolerances are generous (this is a
correctness test, not a timing one); the benchmark script runs the 50-kill version with the
issue's 1 s tolerance.
"""

from __future__ import annotations


import pytest

from benchmarks.fault_kill_watcher import FaultConfig, render, run_fault


@pytest.mark.timeout(300)
def test_killing_the_watcher_never_types_a_checkin_twice_nor_loses_one(tmp_path):
    config = FaultConfig(agents=3, every=(2,), kills=8, seed=8080, tolerance=2.5, deliver_allow=2.5,
                         prefix="orch-test")
    report = run_fault(tmp_path / "rig", config, progress=lambda message: None)
    summary = render(report)
    assert report.deliveries >= 3, summary
    assert report.duplicate_markers == [], summary
    assert report.duplicate_dues == [], summary
    assert report.unmapped_markers == [] and report.note_mismatches == [], summary
    assert report.typing_left == 0, summary
    assert report.unexplained_gaps == [], summary
    assert report.watchers_exited_before_kill == [], summary
    assert report.final_watcher_exit == 0, summary
    assert report.ok, summary
