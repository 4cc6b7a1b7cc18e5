"""Arrow arrays built from buffers equal ``pyarrow.array``'s, and a scoring run loads neither pandas nor nltk."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from compbench import arrow_arrays
from tests.support.release_factory import write_jsonl


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12), max_size=30),
       st.lists(st.booleans(), max_size=30), st.lists(st.floats(allow_nan=False), max_size=30),
       st.lists(st.integers(-2**31, 2**31 - 1), max_size=30))
def test_arrays_equal_pyarrow_array(texts, flags, floats, ints):
    assert arrow_arrays.strings(texts).equals(pa.array(texts, type=pa.string()))
    assert arrow_arrays.booleans(flags).equals(pa.array(flags, type=pa.bool_()))
    assert arrow_arrays.numbers(np.array(floats), pa.float64()).equals(pa.array(floats, type=pa.float64()))
    assert arrow_arrays.numbers(ints, pa.int32()).equals(pa.array(ints, type=pa.int32()))


def test_a_lone_surrogate_is_stored_as_a_question_mark():
    assert arrow_arrays.strings(["a\ud800b"]).to_pylist() == ["a?b"]


def test_score_command_loads_neither_pandas_nor_nltk(tmp_path):
    """pandas (through pyarrow's shim) and nltk (through rouge-score's tokenizers) each cost a second-scale share
    of a scoring run's CPU; the scorer needs neither."""
    refs = write_jsonl(tmp_path / "refs.jsonl", [{"id": f"r{i}", "subtask": "sum+tr-es", "reference": "el gato come"}
                                                 for i in range(12)])
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": f"r{i}", "prediction": "el gato"} for i in range(12)])
    code = ("import sys\nfrom compbench.cli import main\n"
            f"sys.argv = ['compbench', 'score', {str(preds)!r}, '--references', {str(refs)!r}, "
            f"'--out', {str(tmp_path / 'r.json')!r}]\n"
            "try:\n    main()\nexcept SystemExit as exit:\n    assert exit.code in (0, None), exit.code\n"
            "sys.exit(10 * ('pandas' in sys.modules) + ('nltk' in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert (tmp_path / "r.json").is_file() and (tmp_path / "r.examples.parquet").is_file()
