"""Fuzzing command-line arguments: ``gridsim.cli.main(argv)`` with argv built from every command (but the
ones that loop until Ctrl-C: ``live`` always gets ``--drain --speed 0``, ``consume`` never ``--follow``; ``models``
and ``demo`` load the big bundled models and are left to the unit tests) and hostile values for its
arguments and options: unknown / missing models and files, ``synth:N`` with huge or negative N, element
references that do not exist, NaN / inf / negative / huge numbers, unicode, very long strings (file names
longer than the OS allows), unknown options, repeated options, bad queue URLs. Output files only ever go
to relative names in a scratch folder.

Holds when: ``main`` returns (never raises), the exit code is 0, 1 (``validate`` found errors) or 2, an
exit code 2 comes with one ``error: ...`` line on stderr (or click's usage message for a malformed
command line), nothing hangs.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import strategies as st

import fuzzkit
from fuzzkit import run_fuzz

MODELS = ["net.json", "folder", "cigre_mv", "synth:6", "synth:0", "synth:-3", "synth:abc", "synth:5:1:2",
          "synth:99999999999", "synth:5:-1", "simbench:", "simbench:nope", "nope", "missing.json", "missing/",
          "", " ", ".", "..", "/", "a" * 5000, "é" * 300, "net.json\x00", "customers.csv", "scenario.yaml",
          "events.jsonl", "~nobody/x.json", "NET.JSON"]
FAULTS = ["line:0", "line:3", "line:99", "trafo:0", "trafo3w:0", "bus:3", "switch:1", "line", "line:", ":0",
          "line:0=300", "line:0=abc", "line:0=-5", "line:0=nan", "line:0=1e400", "LINE:0", "line:1.5",
          "line:" + "9" * 40, "", "😀"]
NUMBERS = ["0", "1", "-1", "2", "10", "nan", "inf", "-inf", "1e400", "1e-400", "99999999999999999999", "0x10",
           "1.5", "", " ", "abc", "½", "-0", "1_000", "9" * 5000]
OUT_NAMES = ["out.csv", "out.parquet", "out.txt", "outdir", "existing_file", "ä.csv", "x" * 300 + ".csv",
             "sub/deeper/out.csv", "", "."]
QUEUES = ["sqlite:///q.db", "sqlite:///", "sqlite:///sub/", "sqlite:////proc/forbidden/q.db",
          "redis://127.0.0.1:1/0", "amqp://x", "", "redis://", "sqlite:///q.db?x=1", "😀"]
QUEUE_NAMES = ["cs.sms", "grid.events", "CS.SMS", "", "x" * 100, "a b", "ops.repair", "cs.nope"]
STRATEGIES = ["wspt", "fifo", "critical_first", "nope", "", "wspt,wspt", "wspt,fifo", ","]

free = st.one_of(st.sampled_from(fuzzkit.NASTY_STRINGS), st.text(max_size=20),
                 st.sampled_from(NUMBERS + MODELS[:6] + FAULTS[:4]))


def opt(name: str, values):
    """``--name VALUE``: mostly a value of ``values`` (so that the command runs deep), sometimes anything."""
    listed = st.sampled_from(values)
    return st.tuples(st.just(name), st.one_of(listed, listed, listed, free))


def flag(name: str):
    return st.just((name,))


model_arg = st.one_of(st.just("net.json"), st.just("folder"), st.sampled_from(MODELS), st.sampled_from(MODELS), free)


def num(name: str, ok: list[str]):
    """A number option: mostly a sensible value, else a hostile number or anything."""
    good = st.sampled_from(ok)
    return st.tuples(st.just(name), st.one_of(good, good, good, st.sampled_from(NUMBERS), free))


#: command -> (positional arguments, required options, other options)
COMMANDS = {
    "validate": ([model_arg], [], [opt("--customers", ["customers.csv", "missing.csv", "net.json"])]),
    "customers": ([model_arg], [opt("--out", OUT_NAMES)], [opt("--customers", ["customers.csv", "bad.csv"])]),
    "sweep": ([model_arg], [], [opt("--out", OUT_NAMES), num("--top", ["3", "0"]), flag("--flisr")]),
    "impact": ([model_arg], [opt("--fault", FAULTS)], [opt("--fault", FAULTS), flag("--json"),
                                                        flag("--list-customers")]),
    "flisr": ([model_arg], [opt("--fault", FAULTS)],
              [num("--max-loading", ["100", "80"]), num("--vm-min", ["0.95", "0.9"]), num("--vm-max", ["1.05", "1.1"]),
               opt("--capacity", ["local", "full", "pandapower", "none", "x"]), flag("--json")]),
    "plan": ([model_arg], [opt("--fault", FAULTS)],
             [opt("--fault", FAULTS), num("--crews", ["1", "2", "3"]), opt("--strategy", STRATEGIES), flag("--flisr"),
              opt("--start", ["2026-01-05T08:00", "yesterday", "9999-99-99", "0", "1e400"]), flag("--json"),
              flag("--list-customers")]),
    "reliability": ([model_arg], [],
                    [opt("--rate", ["line_cs_per_km=0.03", "trafo=nan", "line:0=inf", "x=1", "=", "trafo=-1",
                                    "line:99=1", "bus=1e400", "trafo"]),
                     opt("--repair", ["trafo=300", "line_ol=nan", "line:0=-5", "switch=inf", "x=1"]),
                     flag("--no-flisr"), flag("--json"), num("--top", ["5"])]),
    "indices": ([st.sampled_from(["interruptions.csv", "missing.csv", "net.json", "customers.csv"])],
                [num("--customers-served", ["10", "1200"])],
                [num("--momentary-threshold-min", ["5", "1"]), num("--cemi-n", ["1", "2"]),
                 num("--period-h", ["8760", "24"]), flag("--json")]),
    "schema": ([], [], []),
    "run": ([st.sampled_from(["scenario.yaml", "scenario.yaml", "missing.yaml", "net.json", "bad.yaml"])],
            [opt("--out", OUT_NAMES)], [num("--seed", ["0", "7"]), opt("--strategy", STRATEGIES)]),
    "compare": ([st.sampled_from(["scenario.yaml", "scenario.yaml", "missing.yaml", "bad.yaml"])],
                [opt("--out", OUT_NAMES)],
                [num("--runs", ["1", "2", "3"]), opt("--strategies", STRATEGIES),
                 opt("--workers", ["1", "0", "-1", "x"]), num("--seed", ["0", "3"])]),
    "advise": ([model_arg], [num("--budget", ["1", "2"])],
               [opt("--what", ["switch", "tie", "both", "x"]), num("--max-candidates", ["0", "2", "5"]),
                num("--max-tie-km", ["1.5", "5"]), flag("--json")]),
    "queues": ([], [], [opt("--queue", QUEUES), flag("--json")]),
    "consume": ([st.one_of(st.sampled_from(QUEUE_NAMES), free)], [],
                [opt("--queue", QUEUES), flag("--json"), num("--max", ["1", "5"]),
                 opt("--consumer", ["c1", "", "x" * 999]), num("--lease", ["30", "1"])]),
    "live": ([model_arg], [],
             [opt("--queue", QUEUES), opt("--db", ["live.db", "", "outdir", "x" * 300]), num("--speed", ["0"]),
              opt("--replay", ["events.jsonl", "scenario.yaml", "missing.yaml", "net.json", "bad.jsonl"]),
              flag("--quiet"), opt("--customers", ["customers.csv", "missing.csv"])]),
    "events push": ([st.sampled_from(["events.jsonl", "events.jsonl", "bad.jsonl", "missing.jsonl", "net.json",
                                      "outdir"])], [], [opt("--queue", QUEUES)]),
    "workorders": ([], [], [opt("--queue", QUEUES), opt("--db", ["live.db", "missing.db", "net.json"]), flag("--all"),
                            flag("--json")]),
    "outages": ([], [], [opt("--queue", QUEUES), opt("--db", ["live.db", "missing.db", "net.json"]), flag("--all"),
                         flag("--json")]),
}


@st.composite
def argv(draw):
    name = draw(st.sampled_from(sorted(COMMANDS)))
    positional, required, options = COMMANDS[name]
    args = name.split()
    pos = [draw(p) for p in positional]
    opts = []
    for o in required:
        opts.extend(draw(o))
    chosen = draw(st.lists(st.sampled_from(range(len(options))), max_size=4)) if options else []
    for i in chosen:
        opts.extend(draw(options[i]))
    mistake = draw(st.integers(0, 19))
    if mistake == 0 and pos:
        pos = pos[:-1]          # a missing argument
    elif mistake == 1 and required:
        opts = opts[2:]         # a missing required option
    elif mistake == 2:
        opts.extend([draw(st.sampled_from(["--nope", "-x", "--", "--json=1", "--top"])), draw(free)])
    if name == "live":
        # without --drain `live` follows grid.events until Ctrl-C; a --replay is paced in real time
        # (--speed 60: one simulated minute per second) unless --speed 0 (the last value given wins)
        opts += ["--drain", "--speed", "0"]
    return args + pos + opts


def setup_folder(root: Path, net_text: str) -> None:
    """The files the commands are pointed at, in the scratch folder ``root`` (the working folder)."""
    (root / "net.json").write_text(net_text)
    (root / "folder").mkdir()
    (root / "folder" / "net.json").write_text(net_text)
    (root / "folder" / "model.yaml").write_text("name: folder\nswitching: {crew_speed_kmh: 30}\n")
    (root / "customers.csv").write_text("customer_id,bus,class,count\nC1,3,residential,10\nH1,4,hospital,1\n")
    (root / "bad.csv").write_text("customer_id,bus,class,count\nC1,x,residential,10\n")
    (root / "interruptions.csv").write_text("customer_id,start,end\nC1,2025-01-06T08:00,2025-01-06T09:30\n"
                                            "C2,2025-01-06T08:00,2025-01-06T08:02\n")
    (root / "scenario.yaml").write_text("name: cli fuzz\nmodel: net.json\n"
                                        "faults:\n  - {element: line:1, repair_min: 60}\n"
                                        "crews: {count: 1, depots: [1]}\nruns: 2\n")
    (root / "bad.yaml").write_text("model: net.json\nfaults: [{element: nope}]\n")
    events = [{"type": "breaker_trip", "id": "t1", "time": "2025-01-06T16:00:00", "device": "switch:0",
               "fault_element": "line:1"},
              {"type": "repair_complete", "id": "t2", "time": "2025-01-06T17:00:00", "element": "line:1"}]
    (root / "events.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    (root / "bad.jsonl").write_text('{"type": "tick"}\n')
    (root / "outdir").mkdir()
    (root / "existing_file").write_text("x")


def check_argv(args: list[str], template: Path) -> None:
    """Run ``gridsim ARGS`` in a fresh copy of the folder ``template`` (so each case stands alone)."""
    root = Path(tempfile.mkdtemp(dir=template.parent))
    shutil.copytree(template, root, dirs_exist_ok=True)
    try:
        _check_argv(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _check_argv(args: list[str], root: Path) -> None:
    from gridsim.cli import main
    from gridsim.restore.plan import PlanWarning

    stdout, stderr = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), warnings.catch_warnings():
            warnings.simplefilter("ignore", PlanWarning)   # documented warnings, printed by the CLI
            code = main(list(args))
    except fuzzkit.Hang:
        raise
    except BaseException as e:  # noqa: BLE001 - main must turn everything into an exit code
        raise AssertionError(f"gridsim {' '.join(args)[:200]!r} raised {type(e).__name__}: {str(e)[:300]}") from e
    finally:
        os.chdir(cwd)
    err = stderr.getvalue()
    assert code in (0, 1, 2), f"exit code {code}: {err[-300:]}"
    if code == 2:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert lines, "exit code 2 without a message"
        usage = any("Usage:" in ln for ln in lines) and any("Error" in ln for ln in lines)
        one = len(lines) == 1 and lines[0].startswith("error: ") and len(lines[0]) <= fuzzkit.MAX_MESSAGE_CHARS + 100
        assert usage or one, f"not one clear line: {err[:400]!r}"
        assert "Traceback" not in err


@pytest.fixture(scope="module")
def cli_root(tmp_path_factory, tiny_json_text):
    root = tmp_path_factory.mktemp("cli") / "template"
    root.mkdir()
    setup_folder(root, tiny_json_text)
    return root


@pytest.mark.parametrize("size", fuzzkit.SIZES)
def test_fuzz_cli_arguments(size, cli_root, monkeypatch):
    for key in list(os.environ):
        if key.startswith("GRIDSIM_") and key not in ("GRIDSIM_CACHE_DIR", "GRIDSIM_MODELS_DIR"):
            monkeypatch.delenv(key)
    run_fuzz("CLI arguments", argv(), lambda a: check_argv(a, cli_root), size)


def explore():  # for exploration scripts: (strategy, check)
    root = Path(tempfile.mkdtemp()) / "template"
    root.mkdir()
    setup_folder(root, fuzzkit.compact_net_json(fuzzkit.tiny_net()))
    os.environ.pop("GRIDSIM_QUEUE", None)
    return argv(), lambda a: check_argv(a, root)
