"""Security of the web app (issue 7, section 4), beyond tests/unit/test_app_security.py:

- no callback that changes state escapes :func:`operator_callback`: the source of every page's callbacks is
  read (AST) and a plain ``@app.callback`` that calls a state-changing method is a failure, so a new one
  cannot be forgotten by the HTTP test's discovery;
- no path traversal: the Strategies page opens only result folders the server found itself and starts only
  bundled scenarios, whatever a client posts (``..``, absolute paths, symlinks out of the folder);
- no secret in the repository (password / secret literals, private keys, tokens);
- passwords only as hashes; the session secret from the environment or generated;
- no server version in the ``Server`` header of the real server (werkzeug).
"""
from __future__ import annotations

import ast
import re
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest

from gridsim.app.auth import Role, User, Users, hash_password, load_users
from gridsim.app.config import AppConfig
from gridsim.app.factory import build_app
from gridsim.app.service import LiveService
from gridsim.live import LiveEngine

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "gridsim" / "app"
PW = {"olga": "operator-pw-1", "victor": "viewer-pw-1"}

# methods that change the live state, the queues or start work (anything an operator does)
_MUTATING = {"operator_event", "start_compare", "apply", "apply_batch", "advance", "publish", "publish_batch",
             "ack", "reject", "flush", "set", "write_text", "unlink", "rmtree", "remove", "write_compare_outputs",
             "cancel"}


def _decorator_name(d) -> str:
    f = d.func if isinstance(d, ast.Call) else d
    return ast.unparse(f)


def test_no_unprotected_state_changing_callback():
    offenders = []
    n_plain = n_op = 0
    for path in sorted(APP_DIR.glob("*_callbacks.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            names = [_decorator_name(d) for d in node.decorator_list]
            if any(n.endswith("operator_callback") for n in names):
                n_op += 1
                continue
            if not any(n.endswith(".callback") for n in names):
                continue
            n_plain += 1
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr in _MUTATING:
                    # dict.setdefault / set() of local data is not a state change; .set() of an Event is
                    offenders.append(f"{path.name}:{sub.lineno} {node.name}() calls .{sub.func.attr}()")
    assert n_op >= 5 and n_plain >= 5, (n_op, n_plain)
    assert not offenders, "state-changing calls in callbacks not registered with operator_callback: " + \
        "; ".join(offenders)


@pytest.fixture(scope="module")
def app_svc(tmp_path_factory):
    base = tmp_path_factory.mktemp("sec")
    results = base / "results"
    (results / "good").mkdir(parents=True)
    outside = base / "outside"
    outside.mkdir()
    for d in (results / "good", outside):
        (d / "summary.json").write_text("{}")
        (d / "results.parquet").write_bytes(b"not parquet")
    (results / "escape").symlink_to(outside, target_is_directory=True)
    eng = LiveEngine("mv_oberrhein", db=":memory:")
    svc = LiveService(AppConfig(replay=None, results_dirs=(str(results),), compare_out=str(base / "out")),
                      engine=eng)
    users = Users({"olga": User("olga", Role.OPERATOR, hash_password(PW["olga"])),
                   "victor": User("victor", Role.VIEWER, hash_password(PW["victor"]))}, "test")
    return build_app(svc, users, secret_key="s" * 32), svc, base


def _login(app, user):
    c = app.server.test_client()
    page = c.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    assert c.post("/login", data={"username": user, "password": PW[user], "csrf": csrf}).status_code == 302
    return c


def _post(c, app, prefix, values):
    key = next(k for k in app.callback_map if k.lstrip(".").startswith(prefix))
    cb = app.callback_map[key]

    def one(s):
        i, p = s.rsplit(".", 1)
        return {"id": i, "property": p.split("@")[0]}
    outputs = [one(s) for s in key.strip(".").split("...")] if key.startswith("..") else one(key)
    inputs = [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in cb["inputs"]]
    state = [{**s, "value": values.get(f"{s['id']}.{s['property']}")} for s in cb["state"]]
    return c.post("/_dash-update-component", json={"output": key, "outputs": outputs, "inputs": inputs,
                                                    "state": state,
                                                    "changedPropIds": [f"{cb['inputs'][0]['id']}."
                                                                       f"{cb['inputs'][0]['property']}"]})


_TRAVERSAL = ["../../../../etc", "/etc", "/etc/passwd", "out/../../../../etc", "{results}/../outside",
              "{base}/outside", "{results}/escape", "\x00", "C:\\Windows", "~/.ssh", "a" * 5000]


def test_strategies_result_loading_refuses_paths_outside(app_svc):
    app, svc, base = app_svc
    c = _login(app, "olga")
    results = base / "results"
    found = svc.compare_result_dirs()
    assert str(results / "good") in found
    assert not any("outside" in f or "escape" in f for f in found), found      # a symlink out is not offered
    opened = []
    import gridsim.app.strategies_callbacks as sc
    orig = sc.load_compare_result
    sc.load_compare_result = lambda folder: opened.append(folder) or orig(folder)
    try:
        for raw in _TRAVERSAL:
            folder = raw.format(results=results, base=base)
            r = _post(c, app, "strategies-output.children", {"strategies-result.value": folder})
            assert r.status_code == 200, r.status_code
            assert "not a known comparison result" in r.get_data(as_text=True), folder[:80]
    finally:
        sc.load_compare_result = orig
    assert opened == []


def test_strategies_start_refuses_scenarios_outside(app_svc, tmp_path):
    app, svc, base = app_svc
    c = _login(app, "olga")
    evil = tmp_path / "evil.yaml"
    evil.write_text((ROOT / "scenarios" / "storm_montecarlo.yaml").read_text())
    for raw in ["../../../../etc/passwd", "/etc/passwd", str(evil), "scenarios/../../../etc/passwd",
                str(ROOT / "scenarios" / "storm_montecarlo.yaml") + "/..", "\x00"]:
        r = _post(c, app, "strategies-job.data", {"strategies-run.n_clicks": 1, "strategies-scenario.value": raw,
                                                  "strategies-pick.value": ["fifo"], "strategies-runs.value": 1})
        assert r.status_code == 200
        assert "choose one of the listed scenarios" in r.get_data(as_text=True), raw
    assert not svc.jobs


_SECRET_PATTERNS = [
    (re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----"), "private key"),
    (re.compile(r"(?i)\b(?:password|passwd|secret(?:_key)?|api_key|token)\b\s*[:=]\s*['\"][^'\"\s]{8,}['\"]"),
     "password/secret literal"),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "AWS access key"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"), "GitHub token"),
    (re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}"), "Slack token"),
    (re.compile(r"redis://[^/\s:@]*:[^@\s/]+@"), "password in a Redis URL"),
]
# test fixtures use throwaway passwords on purpose; docs show placeholders (reviewed one by one: the masked
# URL of the queue's repr, the "[:password@" of the URL syntax, the "user:secret@" of a docstring example, the
# browser benchmark's throwaway user made at its start)
_ALLOWED_DIRS = ("tests/",)
_ALLOWED_VALUES = re.compile(r"(?i)\$|\.\.\.|<|changeme|example|placeholder|xxx|your[-_]|scrypt:|pbkdf2:|"
                             r"\*\*\*|\[:password@|//user:secret@|\"bench-password-1\"")


def test_no_secret_in_the_repository():
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    hits = []
    for f in files:
        p = ROOT / f
        if not p.is_file() or p.stat().st_size > 2_000_000 or p.suffix in (".parquet", ".png", ".gz", ".zip",
                                                                            ".jpg", ".ico", ".woff", ".woff2"):
            continue
        try:
            text = p.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for rx, what in _SECRET_PATTERNS:
            for m in rx.finditer(text):
                if f.startswith(_ALLOWED_DIRS) and what != "private key":
                    continue
                if _ALLOWED_VALUES.search(m.group(0)):
                    continue
                hits.append(f"{f}:{text.count(chr(10), 0, m.start()) + 1}: {what}: {m.group(0)[:60]}")
    assert not hits, "\n".join(hits)


def test_passwords_only_hashed_and_session_secret(monkeypatch):
    h = hash_password("a-long-password")
    assert h.startswith(("scrypt:", "pbkdf2:")) and "a-long-password" not in h
    monkeypatch.setenv("GRIDSIM_USERS", "alice:operator:plain-text-password")
    with pytest.raises(Exception) as ei:
        load_users()
    assert "hash" in str(ei.value).lower()
    monkeypatch.delenv("GRIDSIM_USERS")
    monkeypatch.delenv("GRIDSIM_USERS_FILE", raising=False)
    gen = load_users()
    assert gen.generated and all(u.password_hash.startswith(("scrypt:", "pbkdf2:")) for u in gen.users.values())
    assert all(pw not in u.password_hash for u, pw in zip(gen.users.values(), gen.generated.values()))
    # the session secret: from the environment, else generated (different per start), never a constant
    eng = LiveEngine("mv_oberrhein", db=":memory:")
    svc = LiveService(AppConfig(replay=None, results_dirs=()), engine=eng)
    monkeypatch.delenv("GRIDSIM_SECRET_KEY", raising=False)
    k1 = build_app(svc, gen).server.secret_key
    k2 = build_app(svc, gen).server.secret_key
    assert k1 and k2 and k1 != k2 and len(str(k1)) >= 32
    monkeypatch.setenv("GRIDSIM_SECRET_KEY", "e" * 40)
    assert build_app(svc, gen).server.secret_key == "e" * 40
    monkeypatch.setenv("GRIDSIM_SECRET_KEY", "short")
    with pytest.raises(Exception):
        build_app(svc, gen)


def test_server_header_has_no_version(app_svc):
    from werkzeug.serving import make_server

    from gridsim.app.server import run_options
    app, _, _ = app_svc
    opts = run_options(AppConfig(replay=None, port=0))
    srv = make_server("127.0.0.1", 0, app.server, threaded=True, request_handler=opts["request_handler"])
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{srv.server_port}/_gridsim/health", timeout=10) as r:
            server = r.headers.get("Server")
            assert r.status == 200
            assert r.headers.get("X-Content-Type-Options") == "nosniff"
            assert r.headers.get("X-Frame-Options") == "DENY"
    finally:
        srv.shutdown()
    assert server == "gridsim", server
    assert not re.search(r"werkzeug|python|\d+\.\d+", server, re.I)
