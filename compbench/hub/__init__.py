"""Releases and results on the Hugging Face Hub (docs/hub.md).

``push_release`` uploads a release directory (``compbench release`` writes one) to a dataset repository in one
tagged commit; ``push_results`` adds a results directory as one entry of a results repository and
``pull_results`` fetches a results repository's entries into a leaderboard store. Loading a release back by id
is ``compbench.references.resolve_release`` (``--data ORG/NAME[@REVISION]``).
"""

from compbench.hub.commit import CommitReport, UploadFile
from compbench.hub.push import push_release, release_upload
from compbench.hub.results import (
    ENTRIES_DIR,
    PullReport,
    ResultsEntry,
    entry_id,
    pull_results,
    push_results,
    read_entry,
    read_results_dir,
)

__all__ = ["ENTRIES_DIR", "CommitReport", "PullReport", "ResultsEntry", "UploadFile", "entry_id", "pull_results",
           "push_release", "push_results", "read_entry", "read_results_dir", "release_upload"]
