"""Fuzzing customers CSV files: a valid customers table of the 6-bus net mutated (hostile cells, missing /
renamed / duplicated columns, duplicated ids, unknown buses, NaN / inf / huge numbers, unicode, very long
cells, broken quoting and encodings, many rows) and read the way ``load_model(..., customers=...)`` reads it:
``read_customers``, then validation, then the compiled model is swept.

Holds when: only a GridsimError comes out, one line naming the file (or the customers field for a
validation error), nothing hangs; a table that is accepted compiles and sweeps without error.
"""
from __future__ import annotations

import csv
import io
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import strategies as st

import fuzzkit
from fuzzkit import run_fuzz
from gridsim.errors import GridsimError, ModelValidationError

HEADER = ["customer_id", "bus", "class", "count", "p_kw", "priority", "channels", "name"]
ROWS = [
    ["C1", "3", "residential", "120", "240.5", "", "sms;web", "Main St"],
    ["C2", "4", "commercial", "3", "80", "2", "sms", ""],
    ["H1", "4", "hospital", "1", "800", "", "ivr;sms;web", "St. Mary"],
    ["C3", "5", "agricultural", "7", "14", "1.5", "", "Farm"],
]

cells = st.one_of(st.sampled_from(fuzzkit.NASTY_STRINGS), fuzzkit.numbers.map(str),
                  st.text(max_size=30), fuzzkit.long_strings, st.integers(-3, 9).map(str))


@st.composite
def mutation(draw):
    kind = draw(st.sampled_from(["cell", "cell", "cell", "bus", "drop_column", "rename_column", "dup_column",
                                 "dup_id", "rows", "extra_cells", "text"]))
    if kind == "cell":
        return ("cell", draw(st.integers(0, 3)), draw(st.sampled_from(HEADER)), draw(cells))
    if kind == "bus":
        return ("cell", draw(st.integers(0, 3)), "bus", draw(st.one_of(st.integers(-5, 20), fuzzkit.numbers).map(str)))
    if kind == "drop_column":
        return ("drop_column", draw(st.sampled_from(HEADER)))
    if kind == "rename_column":
        return ("rename_column", draw(st.sampled_from(HEADER)), draw(cells))
    if kind == "dup_column":
        return ("dup_column", draw(st.sampled_from(HEADER)))
    if kind == "dup_id":
        return ("dup_id", draw(st.integers(0, 3)))
    if kind == "rows":
        return ("rows", draw(st.integers(0, 5000)))
    if kind == "extra_cells":
        return ("extra_cells", draw(st.integers(0, 3)), draw(st.integers(1, 200)))
    return ("text", draw(st.sampled_from(["truncate", "garbage", "latin1", "bom", "semicolons", "quote", "nul",
                                          "empty", "header_only", "crlf", "long_line"])), draw(st.integers(0, 10**6)))


def apply_mutations(ops) -> bytes:
    header = list(HEADER)
    rows = [list(r) for r in ROWS]
    text_ops = []
    for op in ops:
        kind = op[0]
        if kind == "cell":
            _, r, col, value = op
            if col in header and rows:
                rows[r % len(rows)][header.index(col)] = fuzzkit.real(value)
        elif kind == "drop_column" and op[1] in header:
            i = header.index(op[1])
            header.pop(i)
            for r in rows:
                r.pop(i)
        elif kind == "rename_column" and op[1] in header:
            header[header.index(op[1])] = fuzzkit.real(op[2])
        elif kind == "dup_column" and op[1] in header:
            i = header.index(op[1])
            header.append(header[i])
            for r in rows:
                r.append(r[i])
        elif kind == "dup_id" and rows:
            rows.append(list(rows[op[1] % len(rows)]))
        elif kind == "rows" and rows:
            rows = [[f"{c}{k}" if j == 0 else c for j, c in enumerate(rows[k % len(rows)])] for k in range(op[1])]
        elif kind == "extra_cells" and rows:
            rows[op[1] % len(rows)].extend(["x"] * op[2])
        elif kind == "text":
            text_ops.append(op)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    data = buf.getvalue().encode("utf-8", "surrogatepass")
    for _, mode, n in text_ops:
        if mode == "truncate":
            data = data[: n % (len(data) + 1)]
        elif mode == "garbage":
            pos = n % (len(data) + 1)
            data = data[:pos] + bytes([n % 256, 0xC3, 0x28]) + data[pos:]
        elif mode == "latin1":
            data += "Müller,3,residential,1\n".encode("latin-1")
        elif mode == "bom":
            data = b"\xef\xbb\xbf" + data
        elif mode == "semicolons":
            data = data.replace(b",", b";")
        elif mode == "quote":
            pos = n % (len(data) + 1)
            data = data[:pos] + b'"' + data[pos:]
        elif mode == "nul":
            data = data.replace(b",", b"\x00,", 1)
        elif mode == "empty":
            data = b""
        elif mode == "header_only":
            data = data.split(b"\n", 1)[0] + b"\n"
        elif mode == "crlf":
            data = data.replace(b"\n", b"\r\n")
        else:
            data += b"Z1,3,residential,1," + b"9" * (n % 200_000 + 1000) + b"\n"
    return data


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, tiny_json_text):
    from gridsim.model import load_model

    path = tmp_path_factory.mktemp("net") / "net.json"
    path.write_text(tiny_json_text)
    return load_model(str(path))


def check_customers_file(data: bytes, root: Path, model) -> None:
    """What ``load_model(net, customers=path)`` does with the file, then compile + sweep what was accepted."""
    from gridsim.core import compile_topology, sweep_single_faults
    from gridsim.model import Model, assert_valid, read_customers

    folder = Path(tempfile.mkdtemp(dir=root))
    try:
        path = folder / "customers.csv"
        path.write_bytes(data)
        try:
            cust = read_customers(path)
            m = Model(name=model.name, net=model.net, customers=cust, devices=model.devices, meta=model.meta)
            assert_valid(m)
        except ModelValidationError as e:
            fuzzkit.assert_clear(e, names=("customers",))
            return
        except GridsimError as e:
            fuzzkit.assert_clear(e, names=(path.name,))
            return
        except fuzzkit.Hang:
            raise
        except Exception as e:  # noqa: BLE001
            raise AssertionError(f"customers file crashed the loader: {type(e).__name__}: {str(e)[:300]}") from e
        try:
            sweep_single_faults(compile_topology(m))
        except GridsimError as e:
            fuzzkit.assert_clear(e)
        except fuzzkit.Hang:
            raise
        except Exception as e:  # noqa: BLE001
            raise AssertionError(f"accepted customers crashed downstream: {type(e).__name__}: {str(e)[:300]}") \
                from e
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("size", fuzzkit.SIZES)
def test_fuzz_customers_csv(size, tmp_path, tiny_model):
    ops = st.lists(mutation(), min_size=1, max_size=3)
    run_fuzz("customers CSV", ops, lambda o: check_customers_file(apply_mutations(o), tmp_path, tiny_model), size)


def explore():  # for exploration scripts: (strategy, check)
    from gridsim.model import load_model

    root = Path(tempfile.mkdtemp())
    (root / "net.json").write_text(fuzzkit.compact_net_json(fuzzkit.tiny_net()))
    model = load_model(str(root / "net.json"))
    return st.lists(mutation(), min_size=1, max_size=3), \
        lambda o: check_customers_file(apply_mutations(o), root, model)
