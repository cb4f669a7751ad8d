"""The only door to LiteRT's flatbuffer schema (`ai_edge_litert.schema_py_generated`, the flatc output with the
object API) and to `flatbuffers`.

Like `hlo_passes.ir` for MLIR: the rest of the backend names ops, options and tensor types through here, so that an
ai-edge-litert upgrade is checked in one place. What lives here:
- `builtin(name)`: the BuiltinOperator code of `"FULLY_CONNECTED"` etc., with a clear error for a typo;
- `options(name, **fields)`: a builtin-options object (`FullyConnectedOptionsT`...) and its union tag, in the
  first or the second options union (StableHLO composites live in the second);
- `tensor_type(dtype)` / `np_dtype(code)`: numpy dtypes <-> TensorType, ml_dtypes included;
- `flexbuffer(dict)`: attributes of a composite or custom op as a flexbuffer map.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
from ai_edge_litert import schema_py_generated as fb
from flatbuffers import flexbuffers

from ..diagnostics import HloError

SCHEMA_VERSION = 3
FILE_IDENTIFIER = b"TFL3"

_TYPES = {
    np.dtype(np.float32): fb.TensorType.FLOAT32, np.dtype(np.float16): fb.TensorType.FLOAT16,
    np.dtype(np.float64): fb.TensorType.FLOAT64, np.dtype(ml_dtypes.bfloat16): fb.TensorType.BFLOAT16,
    np.dtype(np.int8): fb.TensorType.INT8, np.dtype(np.int16): fb.TensorType.INT16,
    np.dtype(np.int32): fb.TensorType.INT32, np.dtype(np.int64): fb.TensorType.INT64,
    np.dtype(np.uint8): fb.TensorType.UINT8, np.dtype(np.uint16): fb.TensorType.UINT16,
    np.dtype(np.uint32): fb.TensorType.UINT32, np.dtype(np.uint64): fb.TensorType.UINT64,
    np.dtype(np.bool_): fb.TensorType.BOOL, np.dtype(np.complex64): fb.TensorType.COMPLEX64,
    np.dtype(np.complex128): fb.TensorType.COMPLEX128, np.dtype(ml_dtypes.int4): fb.TensorType.INT4,
    np.dtype(ml_dtypes.uint4): fb.TensorType.UINT4,
    np.dtype(ml_dtypes.float8_e4m3fn): fb.TensorType.FLOAT8_E4M3FN,
    np.dtype(ml_dtypes.float8_e5m2): fb.TensorType.FLOAT8_E5M2,
}
_DTYPES = {code: dtype for dtype, code in _TYPES.items()}
_TYPE_NAMES = {code: name for name, code in vars(fb.TensorType).items() if not name.startswith("_")}
_OPS = {name: code for name, code in vars(fb.BuiltinOperator).items() if not name.startswith("_")}
_OP_NAMES = {code: name for name, code in _OPS.items()}
_DEPRECATED_CODE_LIMIT = 127  # codes above live only in `builtinCode`; the old byte field says 127


def tensor_type(dtype) -> int:
    dtype = np.dtype(dtype)
    if dtype not in _TYPES:
        raise HloError(f"TFLite has no tensor type for {dtype}")
    return _TYPES[dtype]


def np_dtype(code: int) -> np.dtype:
    if code not in _DTYPES:
        raise HloError(f"TFLite tensor type {_TYPE_NAMES.get(code, code)} has no numpy counterpart here")
    return _DTYPES[code]


def type_name(code: int) -> str:
    return _TYPE_NAMES.get(code, str(code))


def builtin(name: str) -> int:
    """The BuiltinOperator code of an op name as the schema spells it (`"FULLY_CONNECTED"`)."""
    if name not in _OPS:
        from ..diagnostics import did_you_mean

        raise HloError(f"TFLite has no builtin operator {name!r}{did_you_mean(name, _OPS)}")
    return _OPS[name]


def op_name(code: int) -> str:
    return _OP_NAMES.get(code, f"BUILTIN_{code}")


def operator_code(code: int, custom: str | None = None, version: int = 1):
    """An OperatorCodeT. Codes past 127 also set the deprecated byte to 127, as the schema asks."""
    oc = fb.OperatorCodeT()
    oc.builtinCode = code
    oc.deprecatedBuiltinCode = min(code, _DEPRECATED_CODE_LIMIT)
    oc.version = version
    if custom is not None:
        oc.customCode = custom
    return oc


def options(table: str, /, **fields):
    """(union number, union tag, options object) for `name` (`"FullyConnectedOptions"`): union 1 is the
    classic BuiltinOptions, union 2 holds the StableHLO ones (composites)."""
    for union_no, union in ((1, fb.BuiltinOptions), (2, fb.BuiltinOptions2)):
        tag = getattr(union, table, None)
        if tag is not None:
            obj = getattr(fb, f"{table}T")()
            for key, value in fields.items():
                if not hasattr(obj, key):
                    raise HloError(f"{table} has no field {key!r} (fields: {', '.join(vars(obj))})")
                setattr(obj, key, value)
            return union_no, tag, obj
    raise HloError(f"TFLite has no builtin options table {table!r}")


def enum(enum_name: str, value: str) -> int:
    """A schema enum value by name: `enum("ActivationFunctionType", "RELU")`."""
    table = getattr(fb, enum_name, None)
    if table is None or not hasattr(table, value):
        raise HloError(f"TFLite schema has no {enum_name}.{value}")
    return getattr(table, value)


def flexbuffer(attributes: dict) -> bytes:
    """A flexbuffer map of scalars, strings, bools and lists (composite attributes, custom options)."""
    return bytes(flexbuffers.Dumps(attributes))


def read_flexbuffer(data) -> object:
    return flexbuffers.Loads(bytes(data))


def model_from_bytes(data: bytes):
    """The object-API ModelT of a flatbuffer (for inspection and tests)."""
    return fb.ModelT.InitFromObj(fb.Model.GetRootAs(data, 0))


fb_schema = fb  # the generated module itself, for the few places that need a table class by name
