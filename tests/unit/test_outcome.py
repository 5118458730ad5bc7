"""An outcome is done, held, skipped or failed; `ok` (the documents' contract) means only "not failed"."""

import pytest

from reconciler.cli.render import outcomes_document
from reconciler.execute.agents import DONE, FAILED, HELD, SKIPPED, Outcome
from reconciler.model.agents import RenameSession


@pytest.mark.parametrize("status, ok", [(DONE, True), (HELD, True), (SKIPPED, True), (FAILED, False)])
def test_ok_is_not_failed_and_the_document_carries_the_status(status, ok):
    outcome = Outcome(RenameSession("p", "$1", "old", "p-1234abcd"), status, "why")
    document = outcomes_document("p", [outcome])
    assert outcome.ok is ok and document["ok"] is ok
    assert document["actions"][0]["status"] == status and document["actions"][0]["ok"] is ok
