"""JSON documents (manifests, bundle manifests, results) are read by one function with one kind of message."""

from __future__ import annotations

import pytest

from compbench.errors import InputError
from compbench.fileio import read_document
from compbench.schemas import ReleaseManifest


def test_syntax_errors_name_the_line_and_schema_errors_the_field(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text('{\n  "release": "r",\n  "files": [,]\n}\n', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_document(path, ReleaseManifest, "release manifest")
    assert caught.value.line == 3 and str(caught.value).startswith(f"{path}:3: invalid JSON (Expecting value")
    path.write_text('{"release": "r", "files": []}', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_document(path, ReleaseManifest, "release manifest")
    assert str(caught.value) == f"{path}: not a valid release manifest: Field required (at compbench_version)"
    path.write_text('[1, 2]', encoding="utf-8")
    with pytest.raises(InputError, match=r"not a valid release manifest: .* \(at \(top level\)\)$"):
        read_document(path, ReleaseManifest, "release manifest")
