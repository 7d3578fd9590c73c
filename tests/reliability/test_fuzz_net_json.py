"""Fuzzing pandapower network JSON files: a valid 6-bus net mutated (wrong types, missing tables and
fields, NaN / inf, huge numbers, unknown bus ids, duplicated ids, unicode, very long strings, deeply nested
JSON, broken text) and loaded with ``load_model``; what loads is compiled and swept.

Holds when: only a GridsimError comes out, one line naming the file (or, for a validation error, the
table and field), nothing hangs; a model that loads compiles and sweeps without error.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import zlib
from pathlib import Path

import pytest
from hypothesis import strategies as st

import fuzzkit
from fuzzkit import hostile, json_dumps_loose, run_fuzz
from gridsim.errors import GridsimError, ModelValidationError

BASE_TEXT = fuzzkit.compact_net_json(fuzzkit.tiny_net())
BASE = json.loads(BASE_TEXT)
TABLES = [k for k, v in BASE["_object"].items() if isinstance(v, dict) and v.get("_class") == "DataFrame"]
COLUMNS = {t: json.loads(BASE["_object"][t]["_object"])["columns"] for t in TABLES}
SCALARS = [k for k, v in BASE["_object"].items() if not isinstance(v, dict)]
BUS_REFS = [("line", "from_bus"), ("line", "to_bus"), ("trafo", "hv_bus"), ("trafo", "lv_bus"), ("switch", "bus"),
            ("switch", "element"), ("load", "bus"), ("ext_grid", "bus"), ("sgen", "bus")]

tables = st.sampled_from(TABLES)
cell_values = st.one_of(hostile, st.integers(-3, 12))
ids = st.one_of(st.integers(-3, 12), st.integers(), fuzzkit.numbers, st.sampled_from(fuzzkit.NASTY_STRINGS))


@st.composite
def mutation(draw):
    kind = draw(st.sampled_from(["cell", "cell", "cell", "ref", "ref", "drop_column", "drop_table", "table_object",
                                 "index", "dtype", "scalar", "add_table", "rows", "doc", "text"]))
    if kind == "cell":
        t = draw(tables)
        return ("cell", t, draw(st.integers(0, 5)), draw(st.sampled_from(COLUMNS[t])), draw(cell_values))
    if kind == "ref":
        t, c = draw(st.sampled_from(BUS_REFS))
        return ("cell", t, draw(st.integers(0, 5)), c, draw(ids))
    if kind == "drop_column":
        t = draw(tables)
        return ("drop_column", t, draw(st.sampled_from(COLUMNS[t])))
    if kind == "drop_table":
        return ("drop_table", draw(st.sampled_from(TABLES + SCALARS)))
    if kind == "table_object":
        raw = draw(st.one_of(hostile, hostile.map(json_dumps_loose)))
        return ("table_object", draw(tables), raw)
    if kind == "index":
        t = draw(tables)
        return ("index", t, draw(st.sampled_from(["duplicate", "hostile", "shift", "strings"])), draw(ids))
    if kind == "dtype":
        t = draw(tables)
        dtypes = st.sampled_from(["int64", "float64", "bool", "object", "datetime64[ns]", "category", "uint8",
                                  "complex128", "string", "foo", "", "int64[pyarrow]"])
        return ("dtype", t, draw(st.sampled_from(COLUMNS[t])), draw(st.one_of(dtypes, hostile)))
    if kind == "scalar":
        return ("scalar", draw(st.sampled_from(SCALARS + ["_module", "_class"])), draw(hostile))
    if kind == "add_table":
        key = draw(st.sampled_from(["impedance", "dcline", "trafo3w", "gen", "storage", "measurement", "x" * 300,
                                    "bus", "__class__", "é"]))
        return ("add_table", key, draw(st.sampled_from(["copy_line", "copy_bus", "hostile"])), draw(hostile))
    if kind == "rows":
        return ("rows", draw(tables), draw(st.integers(0, 2000)))
    if kind == "doc":
        return ("doc", draw(hostile))
    return ("text", draw(st.sampled_from(["truncate", "garbage", "deep", "bom", "latin1", "nul", "empty"])),
            draw(st.integers(0, 10**6)))


def _frame(obj: dict, table: str) -> dict | None:
    entry = obj.get(table)
    if not isinstance(entry, dict) or not isinstance(entry.get("_object"), str):
        return None
    try:
        frame = json.loads(entry["_object"])
    except (ValueError, RecursionError):
        return None
    ok = isinstance(frame, dict) and all(isinstance(frame.get(k), list) for k in ("columns", "index", "data"))
    return frame if ok and all(isinstance(r, list) and len(r) == len(frame["columns"]) for r in frame["data"]) \
        else None


def _put(obj: dict, table: str, frame: dict) -> None:
    obj[table]["_object"] = json_dumps_loose(frame)


def apply_mutations(ops) -> bytes:
    """The file's bytes after ``ops`` (applied to a copy of the base document)."""
    doc = json.loads(BASE_TEXT)
    text_ops = []
    for op in ops:
        kind = op[0]
        obj = doc.get("_object") if isinstance(doc, dict) else None
        if kind == "text":
            text_ops.append(op)
            continue
        if kind == "doc":
            doc = op[1]
            continue
        if not isinstance(obj, dict):
            continue
        if kind == "cell":
            _, t, row, col, value = op
            f = _frame(obj, t)
            if f and f["data"] and col in f["columns"]:
                f["data"][row % len(f["data"])][f["columns"].index(col)] = value
                _put(obj, t, f)
        elif kind == "drop_column":
            _, t, col = op
            f = _frame(obj, t)
            if f and col in f["columns"]:
                i = f["columns"].index(col)
                f["columns"].pop(i)
                for r in f["data"]:
                    r.pop(i)
                _put(obj, t, f)
                obj[t].get("dtype", {}).pop(col, None)
        elif kind == "drop_table":
            obj.pop(op[1], None)
        elif kind == "table_object":
            if op[1] in obj and isinstance(obj[op[1]], dict):
                obj[op[1]]["_object"] = op[2]
        elif kind == "index":
            _, t, mode, value = op
            f = _frame(obj, t)
            if f and f["index"]:
                idx = f["index"]
                if mode == "duplicate" and len(idx) > 1:
                    idx[-1] = idx[0]
                elif mode == "hostile":
                    idx[zlib.crc32(repr(value).encode()) % len(idx)] = value
                elif mode == "shift":
                    f["index"] = [i + 1000 if isinstance(i, int) else i for i in idx]
                else:
                    f["index"] = [f"id{i}" for i in idx]
                _put(obj, t, f)
        elif kind == "dtype":
            _, t, col, value = op
            if isinstance(obj.get(t), dict) and isinstance(obj[t].get("dtype"), dict):
                obj[t]["dtype"][col] = value
        elif kind == "scalar":
            if op[1] in ("_module", "_class"):
                if isinstance(doc, dict):
                    doc[op[1]] = op[2]
            else:
                obj[op[1]] = op[2]
        elif kind == "add_table":
            _, key, mode, value = op
            if mode == "hostile":
                obj[key] = value
            else:
                src = "line" if mode == "copy_line" else "bus"
                if isinstance(obj.get(src), dict):
                    obj[key] = json.loads(json.dumps(obj[src]))
        elif kind == "rows":
            _, t, n = op
            f = _frame(obj, t)
            if f and f["data"]:
                f["data"] = (f["data"] * (n // len(f["data"]) + 1))[:n]
                f["index"] = (f["index"] * (n // max(len(f["index"]), 1) + 1))[:n]
                _put(obj, t, f)
    text = json_dumps_loose(doc).encode("utf-8", "surrogatepass")  # lone surrogates: invalid UTF-8
    for _, mode, n in text_ops:
        if mode == "truncate":
            text = text[: n % (len(text) + 1)]
        elif mode == "garbage":
            pos = n % (len(text) + 1)
            text = text[:pos] + bytes([n % 256, (n // 7) % 256, 0xFF]) + text[pos:]
        elif mode == "deep":
            text = fuzzkit.nested_text(1000 + n % 200_000).encode()
        elif mode == "bom":
            text = b"\xef\xbb\xbf" + text
        elif mode == "latin1":
            text = text + "é".encode("latin-1")
        elif mode == "nul":
            text = b"\x00" * (n % 64 + 1) + text
        else:
            text = b""
    return text


#: cases, refused by validation, refused as a file (for the exploration script)
OUTCOMES = [0, 0, 0]


def check_net_file(data: bytes, root: Path) -> None:  # noqa: C901
    from gridsim.core import compile_topology, sweep_single_faults
    from gridsim.model import load_model
    from gridsim.restore import plan_flisr

    OUTCOMES[0] += 1
    folder = Path(tempfile.mkdtemp(dir=root))
    try:
        path = folder / "net.json"
        path.write_bytes(data)
        try:
            model = load_model(str(path))
        except ModelValidationError as e:
            fuzzkit.assert_clear(e, names=tuple(f"{i.element}" for i in e.issues) or ("validation",))
            OUTCOMES[1] += 1
            return
        except GridsimError as e:
            fuzzkit.assert_clear(e, names=(path.name,))
            OUTCOMES[2] += 1
            return
        except fuzzkit.Hang:
            raise
        except Exception as e:  # noqa: BLE001
            raise AssertionError(f"load_model crashed: {type(e).__name__}: {str(e)[:300]}") from e
        # what loads must work downstream
        try:
            topo = compile_topology(model)
            sweep_single_faults(topo)
            if len(model.net.line):
                plan_flisr(topo, f"line:{int(model.net.line.index[0])}")
        except GridsimError as e:
            fuzzkit.assert_clear(e)
        except fuzzkit.Hang:
            raise
        except Exception as e:  # noqa: BLE001
            raise AssertionError(f"a model that loaded crashed downstream: {type(e).__name__}: {str(e)[:300]}") \
                from e
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("size", fuzzkit.SIZES)
def test_fuzz_network_json(size, tmp_path):
    ops = st.lists(mutation(), min_size=1, max_size=3)
    run_fuzz("network JSON", ops, lambda o: check_net_file(apply_mutations(o), tmp_path), size,
             examples=(100, 2000))


def explore():  # for /tmp exploration scripts: (strategy, check)
    root = Path(tempfile.mkdtemp())
    return st.lists(mutation(), min_size=1, max_size=3), lambda o: check_net_file(apply_mutations(o), root)
