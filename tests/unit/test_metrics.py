"""The metrics are plain arithmetic over ledger rows and events: table tests, no tmux."""

from __future__ import annotations

import pytest

from reconciler.metrics import EventRow, FiringRow, percentile, prometheus, summarize, write_textfile

NOW = 10_000.0


@pytest.mark.parametrize("values, q, expected", [
    ([], 50, None),
    ([3.0], 99, 3.0),
    ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
    ([float(n) for n in range(1, 101)], 99, 99.0),
    ([float(n) for n in range(1, 101)], 100, 100.0),
    ([5.0, 1.0, 3.0], 50, 3.0),  # unsorted input
])
def test_percentile_is_nearest_rank(values, q, expected):
    assert percentile(values, q) == expected


def test_checkins_count_only_what_came_due_and_lateness_is_paste_minus_due():
    firings = [
        FiringRow(100.0, "submitted", 100.1),
        FiringRow(200.0, "submitted", 200.3),
        FiringRow(300.0, "failed", None),
        FiringRow(400.0, "skipped", None),
        FiringRow(500.0, "typing", 500.0),
        FiringRow(NOW + 60, "planned", None),  # not due yet: not counted
    ]
    document = summarize("shop", firings, [], agents=3, now=NOW)
    checkins = document["checkins"]
    assert (checkins["due"], checkins["delivered"], checkins["failed"], checkins["skipped"],
            checkins["pending"]) == (5, 2, 1, 1, 1)
    assert checkins["success_rate"] == 0.4
    assert checkins["lateness_p50_s"] == 0.1
    assert checkins["lateness_p99_s"] == 0.3
    assert document["agents"] == 3


def test_no_checkins_means_no_rate_rather_than_zero_or_a_division_error():
    checkins = summarize("shop", [], [], agents=0, now=NOW)["checkins"]
    assert checkins["success_rate"] is None and checkins["lateness_p99_s"] is None


def test_sync_restarts_and_holds_come_from_events():
    events = [
        EventRow(1.0, "sync.rebased", {"latency_s": 0.2}),
        EventRow(2.0, "sync.merged", {"latency_s": 0.6}),
        EventRow(3.0, "sync.rebased", {}),  # recorded before latency was kept: counted, no latency
        EventRow(4.0, "sync.conflict", {"files": ["a.py"]}),
        EventRow(5.0, "agent.restarted", {}),
        EventRow(6.0, "agent.restarted", {}),
        EventRow(7.0, "credit.exhausted", {}),
        EventRow(8.0, "credit.held", {}),
        EventRow(9.0, "credit.cleared", {}),
    ]
    document = summarize("shop", [], events, agents=2, now=NOW)
    assert document["sync"] == {"syncs": 3, "latency_p50_s": 0.2, "latency_p99_s": 0.6, "conflicts": 1}
    assert document["restarts"] == 2
    assert document["checkins"]["held_for_credit"] == 2


def test_prometheus_text_has_help_type_labels_and_quantiles():
    project = summarize('we"ird', [FiringRow(1.0, "submitted", 1.25)], [], agents=1, now=NOW)
    text = prometheus({"projects": [project], "concurrent_projects": 1, "concurrent_agents": 1})
    assert "# TYPE orch_checkins_due_total counter" in text
    assert 'orch_checkins_due_total{project="we\\"ird"} 1' in text
    assert 'orch_checkin_lateness_seconds{project="we\\"ird",quantile="0.99"} 0.25' in text
    assert "orch_sync_latency_seconds{" not in text  # no syncs: no sample, rather than a made-up 0
    assert text.endswith("orch_projects 1\n")
    for line in text.splitlines():  # every sample line is `name{labels} number` or `name number`
        if not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])


def test_textfile_is_replaced_whole_and_leaves_no_temporary(tmp_path):
    folder = tmp_path / "textfile"
    folder.mkdir()
    target = folder / "orch.prom"
    target.write_text("old\n")
    write_textfile(target, "orch_projects 2\n")
    assert target.read_text() == "orch_projects 2\n"
    assert [p.name for p in folder.iterdir()] == ["orch.prom"]


def test_the_share_of_deliveries_the_agents_own_receipt_confirmed():
    events = [EventRow(1.0, "checkin.delivered", {"confirmed_by": "receipt"}),
              EventRow(2.0, "message.delivered", {"confirmed_by": "receipt"}),
              EventRow(3.0, "brief.delivered", {"confirmed_by": "screen"}),
              EventRow(4.0, "credit.resumed", {"confirmed_by": "receipt"}),
              EventRow(5.0, "message.delivered", {}),  # recorded before receipts existed
              EventRow(6.0, "message.failed", {"confirmed_by": None})]
    assert summarize("shop", [], events, agents=1, now=NOW)["deliveries"] == {
        "confirmed_by_receipt": 3, "confirmed_by_screen": 1, "receipt_share": 0.75}
    assert summarize("shop", [], [], agents=1, now=NOW)["deliveries"]["receipt_share"] is None
