"""Arrow arrays from Python lists and numpy arrays, without loading pandas.

``pyarrow.array()`` and ``Array.to_numpy()`` consult pyarrow's pandas shim, which imports pandas whenever it is
installed, whatever the input: about 0.3 s of CPU, a quarter of a whole ``compbench score`` run. The scorer builds
its output columns from buffers instead, with pyarrow's documented ``Array.from_buffers`` (no nulls: none of these
columns has any), and reads numbers back with ``to_pylist``. ``tests/test_arrow_arrays.py`` checks that the arrays
equal ``pyarrow.array``'s and that scoring never imports pandas.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa


def strings(values: Sequence[str]) -> pa.Array:
    """A ``string`` array. A lone surrogate (which JSON escapes allow) is stored as ``?``: UTF-8 cannot hold it."""
    data = [v.encode("utf-8", "replace") for v in values]
    offsets = np.zeros(len(data) + 1, dtype=np.int32)
    np.cumsum(np.fromiter(map(len, data), np.int64, len(data)), out=offsets[1:], dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), len(data), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))])


NUMERIC = {pa.int32(): np.int32, pa.int64(): np.int64, pa.float64(): np.float64}


def numbers(values: np.ndarray | Sequence[float], type: pa.DataType) -> pa.Array:
    """An array of one of the :data:`NUMERIC` types holding ``values``."""
    array = np.ascontiguousarray(values, dtype=NUMERIC[type])
    return pa.Array.from_buffers(type, len(array), [None, pa.py_buffer(array)])


def booleans(values: Sequence[bool]) -> pa.Array:
    """A ``bool`` array (Arrow packs booleans into bits, least significant first)."""
    bits = np.packbits(np.asarray(values, dtype=bool), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])


def column(values: Sequence, type: pa.DataType) -> pa.Array:
    """An array of ``type`` (string, bool or one of :data:`NUMERIC`) holding ``values``."""
    if pa.types.is_string(type):
        return strings(values)
    if pa.types.is_boolean(type):
        return booleans(values)
    return numbers(values, type)


def table(columns: dict[str, Sequence], schema: pa.Schema) -> pa.Table:
    """A table of ``schema`` from equal-length columns by field name."""
    return pa.Table.from_arrays([column(columns[f.name], f.type) for f in schema], schema=schema)
