"""Where a generator's identity comes from: Hub cache snapshots, local-dir download metadata, content hashes."""

from __future__ import annotations

import pytest

from compbench.errors import InputError
from compbench.generation.checkpoints import (
    describe_local_checkpoint,
    directory_content_hash,
    require_safetensors,
    resolve_checkpoint,
)

SHA = "0123456789abcdef0123456789abcdef01234567"


def _write_model(directory):
    directory.mkdir(parents=True)
    (directory / "config.json").write_text('{"model_type": "marian"}')
    (directory / "model.safetensors").write_bytes(b"weights")
    return directory


def test_hub_cache_snapshot_gives_repo_id_and_commit(tmp_path):
    snapshot = _write_model(tmp_path / "hub" / "models--Helsinki-NLP--opus-mt-en-de" / "snapshots" / SHA)
    checkpoint = resolve_checkpoint(str(snapshot))
    assert (checkpoint.model_id, checkpoint.revision) == ("Helsinki-NLP/opus-mt-en-de", SHA)
    assert resolve_checkpoint(snapshot, model_id="mine").model_id == "mine"


def test_local_dir_download_metadata_gives_commit(tmp_path):
    directory = _write_model(tmp_path / "opus-mt-en-fr")
    metadata = directory / ".cache" / "huggingface" / "download" / "config.json.metadata"
    metadata.parent.mkdir(parents=True)
    metadata.write_text(f"{SHA}\n\"etag\"\n1700000000.0\n")
    assert describe_local_checkpoint(directory).revision == SHA
    assert describe_local_checkpoint(directory).model_id == "opus-mt-en-fr"


def test_content_hash_follows_file_contents_only(tmp_path):
    first = _write_model(tmp_path / "a")
    second = _write_model(tmp_path / "b")
    (second / ".cache").mkdir()
    (second / ".cache" / "noise").write_text("ignored")
    assert directory_content_hash(first) == directory_content_hash(second)
    assert describe_local_checkpoint(first).revision == directory_content_hash(first)
    (second / "model.safetensors").write_bytes(b"other weights")
    assert directory_content_hash(first) != directory_content_hash(second)


def test_missing_or_unsafe_weights_are_refused(tmp_path):
    with pytest.raises(InputError, match="model directory not found"):
        resolve_checkpoint(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=r"no weights found \(expected \*.safetensors\)"):
        require_safetensors(empty)
    with pytest.raises(InputError, match="expected adapter_model.safetensors"):
        require_safetensors(empty, adapter=True)
