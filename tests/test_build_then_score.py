"""The parts meet: a release written by `compbench build` is what `compbench score` reads."""

import hashlib
import json

import pyarrow.parquet as pq
from click.testing import CliRunner

from compbench.build import build
from compbench.cli import main
from compbench.schemas import ReleaseManifest
from tests.support.fake_generators import FIXTURE_SOURCES, FakeProvider


def test_scoring_a_built_release(tmp_path):
    release = tmp_path / "release"
    build(release, sources_dir=FIXTURE_SOURCES, cache_dir=tmp_path / "cache", generators=FakeProvider(),
          progress=False, only=["sum+tr-es", "reply+tone-witty"], splits=["test"])
    manifest = ReleaseManifest.model_validate_json((release / "manifest.json").read_text())
    rows = [r for f in manifest.files for r in pq.read_table(release / f.path).to_pylist()]
    # A perfect system on sum+tr-es, an empty one on reply+tone-witty.
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps({"id": r["id"], "prediction": r["reference"] if r["subtask"] == "sum+tr-es"
                                         else ""}) + "\n" for r in rows))
    out = tmp_path / "results.json"
    result = CliRunner().invoke(main, ["score", str(preds), "--data", str(release), "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    n_sum = sum(r["subtask"] == "sum+tr-es" for r in rows)
    assert doc["subtasks"]["sum+tr-es"]["n"] == n_sum > 0
    assert doc["subtasks"]["sum+tr-es"]["rougeL"] == 100.0
    assert doc["subtasks"]["reply+tone-witty"]["weighted_rouge"] == 0.0
    manifest = json.loads((release / "manifest.json").read_text())
    manifest.pop("engine", None)  # how it was built is not part of what it is (compbench.references.release_hash)
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert doc["benchmark"]["release_hash"] == hashlib.sha256(canonical.encode()).hexdigest()
