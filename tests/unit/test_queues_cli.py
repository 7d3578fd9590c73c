"""`gridsim consume` and `gridsim queues` through the real entry point, and render_message."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest

from gridsim.cli import main
from gridsim.queues import open_queue, register_renderer, render_message
from gridsim.queues.render import unregister_renderer

REDIS_URL = "redis://127.0.0.1:6379/0"


def run(args, capsys):
    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def notice(i, **extra) -> dict:
    return {"schema": "gridsim.outage_notice/1", "id": f"N{i}", "created_at": f"2026-05-09T10:0{i % 10}:00+00:00",
            "outage_id": "O-7", "customer_id": f"C{i}", "area": "fuse:line:40", "customers": 120, "critical": 2,
            "cause": "fault", "start": "2026-05-09T09:58:00+00:00", "etr": None, **extra}


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path}/q.db"


@pytest.fixture
def redis_url():
    import redis
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as e:
        pytest.fail(f"no Redis server answers on 127.0.0.1:6379 ({e}): start one with "
                    f"`redis-server --daemonize yes --save '' --appendonly no` (.ci/run starts one)")
    prefix = f"gridsim-test:{uuid.uuid4().hex[:12]}:"
    yield f"{REDIS_URL}?prefix={prefix}"
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_consume_prints_one_line_per_message_then_acks(url, capsys):
    with open_queue(url) as q:
        q.publish_batch([("cs.sms", notice(i)) for i in range(3)])
    code, out, err = run(["consume", "cs.sms", "--queue", url], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("cs.sms  2026-05-09T10:00:00+00:00  outage_notice/1  outage_id=O-7 customer_id=C0")
    assert "etr=" not in lines[0], "null fields are left out"
    assert "3 message(s) consumed and acknowledged" in err
    with open_queue(url) as q:
        assert q.stats(["cs.sms"])[0].depth == 0
    code, out, err = run(["consume", "cs.sms", "--queue", url], capsys)
    assert (code, out) == (0, "") and "0 message(s)" in err


def test_consume_json_and_max(url, capsys):
    with open_queue(url) as q:
        q.publish_batch([("ops.repair", notice(i)) for i in range(5)])
    code, out, err = run(["consume", "ops.repair", "--queue", url, "--json", "--max", "2", "--consumer", "crew-1"],
                         capsys)
    assert code == 0, err
    assert [json.loads(ln) for ln in out.splitlines()] == [notice(0), notice(1)]
    with open_queue(url) as q:
        s = q.stats(["ops.repair"])[0]
        assert (s.depth, s.pending) == (3, 0), "only what was printed is acknowledged"


def test_consume_drops_duplicates_by_id(redis_url, capsys):
    """Redis is at-least-once: the same id published twice is printed once per session."""
    with open_queue(redis_url) as q:
        q.publish_batch([("cs.ivr", notice(1)), ("cs.ivr", notice(2)), ("cs.ivr", notice(1))])
    code, out, err = run(["consume", "cs.ivr", "--queue", redis_url, "--json"], capsys)
    assert code == 0, err
    assert [json.loads(ln)["id"] for ln in out.splitlines()] == ["N1", "N2"]
    assert "1 duplicate(s) dropped" in err
    with open_queue(redis_url) as q:
        assert q.stats(["cs.ivr"])[0].depth == 0, "the duplicate is acknowledged too"


def test_queues_table_and_json(url, capsys):
    with open_queue(url) as q:
        q.publish_batch([("cs.sms", notice(i)) for i in range(4)] + [("lab.extra", notice(9))])
        got = q.claim("cs.sms", "a", count=2)
        q.reject("cs.sms", [got[0].delivery_id], "test")
    code, out, err = run(["queues", "--queue", url], capsys)
    assert code == 0, err
    assert "Queues at sqlite:///" in out
    row = next(ln for ln in out.splitlines() if "cs.sms" in ln)
    assert [c.strip() for c in row.split("│")[1:5]] == ["cs.sms", "3", "1", "1"]
    assert "grid.events" in out and "lab.extra" in out
    code, out, err = run(["queues", "--queue", url, "--json"], capsys)
    data = {d["queue"]: d for d in json.loads(out)}
    assert data["cs.sms"] == {"queue": "cs.sms", "depth": 3, "pending": 1, "dead": 1}
    assert data["lab.extra"]["depth"] == 1 and len(data) == 10


@pytest.mark.parametrize("args, needles", [
    (["queues", "--queue", "postgres://db/x"], ["postgres://db/x", "sqlite:///", "redis://"]),
    (["consume", "cs.sms", "--queue", "nonsense"], ["nonsense", "sqlite:///"]),
    (["consume", "CS.SMS", "--queue", "sqlite:///{tmp}/q.db"], ["bad queue name", "CS.SMS"]),
    (["consume", "cs.sms", "--queue", "sqlite:///{tmp}/q.db", "--max", "0"], ["--max 0"]),
    (["queues", "--queue", "redis://127.0.0.1:{port}/0"], ["127.0.0.1:{port}", "unavailable"]),
])
def test_user_errors_give_one_line_and_exit_2(args, needles, capsys, tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    args = [a.format(tmp=tmp_path, port=port) for a in args]
    code, out, err = run(args, capsys)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for n in needles:
        assert n.format(port=port) in lines[0]


def test_consume_follow_stops_cleanly_on_ctrl_c(url):
    with open_queue(url) as q:
        q.publish("cs.web", notice(1))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen([sys.executable, "-m", "gridsim.cli", "consume", "cs.web", "--queue", url, "--follow",
                           "--json", "--poll", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env) as child:
        try:
            first = child.stdout.readline()
            assert json.loads(first)["id"] == "N1", child.stderr.read()
            with open_queue(url) as q:
                q.publish("cs.web", notice(2))
            second = child.stdout.readline()
            assert json.loads(second)["id"] == "N2"
            time.sleep(0.3)  # the ack of N2 follows its line
            child.send_signal(signal.SIGINT)
            assert child.wait(20) == 130
            assert "interrupted" in child.stderr.read()
        finally:
            if child.poll() is None:
                child.kill()
    with open_queue(url) as q:
        assert q.stats(["cs.web"])[0].depth == 0


def test_render_message_generic_and_registered(monkeypatch):
    # the live engine registers one renderer per schema when gridsim.live.messages is imported
    # (by another test, in the same process): test the registry on its own
    from gridsim.queues import render as render_mod
    monkeypatch.setattr(render_mod, "_RENDERERS", {})
    m = notice(3, text="line one\nline two")
    line = render_message(m)
    assert line.startswith("2026-05-09T10:03:00+00:00  outage_notice/1  outage_id=O-7 customer_id=C3 area=fuse:line:40")
    assert "\n" not in line and 'text="line one line two"' in line
    assert render_message({"id": "x"}).startswith("?  ?")
    register_renderer("gridsim.outage_notice", lambda msg: f"OUT {msg['outage_id']} -> {msg['customer_id']}")
    try:
        assert render_message(m) == "OUT O-7 -> C3"
        register_renderer("gridsim.outage_notice/1", lambda msg: 1 / 0)
        assert "renderer for gridsim.outage_notice/1 failed: ZeroDivisionError" in render_message(m)
    finally:
        unregister_renderer("gridsim.outage_notice")
        unregister_renderer("gridsim.outage_notice/1")
    assert render_message(m) == line
