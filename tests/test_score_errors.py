"""Every kind of bad input: one clear message naming the file (and line), exit code 2, no output written."""

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from compbench.cli import main
from tests.support.release_factory import row, write_jsonl, write_release


@pytest.fixture()
def setup(tmp_path):
    rows = [row("sum+tr-es", "d1", "el gato duerme"), row("sum+tr-es", "d2", "la niña come")]
    root = write_release(tmp_path / "release", rows)
    good = [{"id": r["id"], "prediction": "el gato"} for r in rows]
    return tmp_path, root, good


def run(tmp_path, *args):
    out = tmp_path / "out" / "results.json"
    result = CliRunner().invoke(main, ["score", *map(str, args), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir()), "output was written"
    return result.output


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("lines, expected", [
    (['{"id": "sum+tr-es/test/d1/0", "prediction": "x"}', '{"id": "a", "prediction": '], ":2: invalid JSON"),
    (['{"id": "sum+tr-es/test/d1/0", "prediction": "x"}', "[1, 2]"], ":2: expected a JSON object, found list"),
    (['{"prediction": "x"}'], ":1: missing 'id'"),
    (['{"id": "sum+tr-es/test/d1/0"}'], ":1: missing 'prediction'"),
    (['{"id": "sum+tr-es/test/d1/0", "prediction": 3}'], ":1: 'prediction' of id 'sum+tr-es/test/d1/0' must be a string"),
    (['{"id": 7, "prediction": "x"}'], ":1: 'id' must be a string"),
    (['{"id": "sum+tr-es/test/d1/0", "prediction": "x"}', '{"id": "sum+tr-es/test/d1/0", "prediction": "y"}'],
     ":2: duplicate id 'sum+tr-es/test/d1/0' (first seen on line 1)"),
    (['{"id": "sum+tr-es/test/d1/0", "prediction": "x"}', '{"id": "nope", "prediction": "y"}'],
     ":2: id 'nope' is not in the references"),
    (['{"id": "sum+tr-es/test/d1/0", "prediction": "x"}'], "1 reference(s) have no prediction"),
    (["", "  "], "file is empty"),
])
def test_bad_jsonl(setup, lines, expected):
    tmp_path, root, _ = setup
    path = write_lines(tmp_path / "preds.jsonl", lines)
    output = run(tmp_path, path, "--data", root)
    assert f"error: {path}" in output
    assert expected in output


def test_missing_file(setup):
    tmp_path, root, _ = setup
    output = run(tmp_path, tmp_path / "absent.jsonl", "--data", root)
    assert "absent.jsonl" in output and "not found" in output


def test_directory_instead_of_file(setup):
    tmp_path, root, _ = setup
    assert "is a directory" in run(tmp_path, tmp_path, "--data", root)


def test_not_utf8(setup):
    tmp_path, root, _ = setup
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"id": "sum+tr-es/test/d1/0", "prediction": "x"}\n{"id": "b", "prediction": "ni\xf1o"}\n')
    output = run(tmp_path, path, "--data", root)
    assert f"{path}:2: not UTF-8" in output


def test_parquet_wrong_columns(setup):
    tmp_path, root, _ = setup
    path = tmp_path / "preds.parquet"
    pd.DataFrame({"id": ["a"], "text": ["x"]}).to_parquet(path)
    output = run(tmp_path, path, "--data", root)
    assert f"{path}: wrong columns: missing prediction" in output


def test_unreadable_parquet(setup):
    tmp_path, root, _ = setup
    path = tmp_path / "preds.parquet"
    path.write_text("not parquet")
    assert "not a readable Parquet file" in run(tmp_path, path, "--data", root)


def test_unknown_subtask(setup):
    tmp_path, root, good = setup
    path = write_jsonl(tmp_path / "preds.jsonl", good)
    output = run(tmp_path, path, "--data", root, "--subtask", "sum+tr-ex")
    assert "unknown sub-task id 'sum+tr-ex'" in output and "sum+tr-es" in output


def test_unknown_tokenizer(setup):
    tmp_path, root, good = setup
    path = write_jsonl(tmp_path / "preds.jsonl", good)
    assert "'ascii' is not one of" in run(tmp_path, path, "--data", root, "--tokenizer", "ascii")


def test_release_without_manifest_and_missing_release(setup):
    tmp_path, root, good = setup
    path = write_jsonl(tmp_path / "preds.jsonl", good)
    (root / "manifest.json").unlink()
    assert "manifest.json: file not found" in run(tmp_path, path, "--data", root)
    assert "release directory not found" in run(tmp_path, path, "--data", tmp_path / "nowhere")


def test_release_file_changed_after_release(setup):
    tmp_path, root, good = setup
    path = write_jsonl(tmp_path / "preds.jsonl", good)
    parquet = next(root.rglob("*.parquet"))
    parquet.write_bytes(parquet.read_bytes() + b"x")
    assert "sha256 differs from the manifest" in run(tmp_path, path, "--data", root)


def test_bad_references_file(setup):
    tmp_path, _, good = setup
    preds = write_jsonl(tmp_path / "preds.jsonl", good)
    refs = write_lines(tmp_path / "refs.jsonl", [json.dumps({"id": "a", "subtask": "sum+tr-xx", "reference": "r"})])
    assert f"{refs}:1: unknown sub-task id 'sum+tr-xx'" in run(tmp_path, preds, "--references", refs)
    refs = write_lines(tmp_path / "refs.jsonl", [json.dumps({"id": "a", "reference": "r"})])
    assert f"{refs}:1: missing 'subtask'" in run(tmp_path, preds, "--references", refs)


def test_needs_exactly_one_reference_source(setup):
    tmp_path, root, good = setup
    preds = write_jsonl(tmp_path / "preds.jsonl", good)
    assert "exactly one of" in run(tmp_path, preds)
