"""The default path of ``compbench build``: sources fetched from the Hub (here the stand-in serving each source's
Hub copy at its pinned revision) with ``datasets``, end to end with the fake generators."""

from __future__ import annotations

from click.testing import CliRunner

from builders.sources import SOURCE_PINS
from compbench.build import build
from compbench.cli import main
from compbench.schemas import ReleaseManifest
from tests.support.fake_generators import FIXTURE_SOURCES, FakeProvider, tree_bytes
from tests.support.source_hub_copies import serve_sources


def data_files(release):
    return {path: content for path, content in tree_bytes(release).items() if path.startswith("data/")}


def test_build_from_the_hub_gives_the_release_built_from_the_original_files(hub, tmp_path):
    serve_sources(hub)
    from_hub = build(tmp_path / "hub-release", cache_dir=tmp_path / "cache", generators=FakeProvider(),
                     progress=False)
    local = build(tmp_path / "local-release", sources_dir=FIXTURE_SOURCES, cache_dir=tmp_path / "cache",
                  generators=FakeProvider(), progress=False)
    # Every row of every split is the same, byte for byte, whichever way the sources were read.
    assert data_files(tmp_path / "hub-release") == data_files(tmp_path / "local-release")
    assert [f.model_dump() for f in from_hub.manifest.files] == [f.model_dump() for f in local.manifest.files]
    # The manifest records where the sources came from: the pinned Hub revisions.
    assert [(s.name, s.hub_id, s.revision, s.local_files) for s in from_hub.manifest.sources] == [
        (name, pin.location.hub_id, pin.location.revision, {}) for name, pin in sorted(SOURCE_PINS.items())]
    # Only the pinned revisions were read.
    read = [r for r in hub.requests if "/resolve/" in r]
    assert read and all(any(pin.location.revision in r for pin in SOURCE_PINS.values()) for r in read)
    assert not hub.unhandled and len(hub.requests) < 400


def test_build_cli_from_the_hub_for_one_subtask(hub, tmp_path, monkeypatch):
    serve_sources(hub)
    import compbench.build.pipeline as pipeline

    monkeypatch.setattr(pipeline, "_default_provider", lambda **options: FakeProvider())
    result = CliRunner().invoke(main, ["build", "--subtask", "sum+tr-es", "--split", "test", "--out",
                                       str(tmp_path / "release"), "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    manifest = ReleaseManifest.model_validate_json((tmp_path / "release" / "manifest.json").read_text())
    assert [(f.subtask, f.split, f.rows) for f in manifest.files] == [("sum+tr-es", "test", 6)]
    assert manifest.sources[0].revision == SOURCE_PINS["dialogsum"].location.revision
