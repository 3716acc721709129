"""Hypothesis throws random Socket.IO events and REST parameters at one real server.

Afterwards a normal viewer must still get its hello and samples, nothing may have answered
5xx, and the server log must hold no traceback.
"""

from __future__ import annotations

import json
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import RawViewer, http_get

pytestmark = pytest.mark.integration

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
event_names = st.sampled_from(
    ["watch", "resync", "ping", "connect", "disconnect", "error"]
) | st.text(max_size=12)
frames = st.one_of(
    st.builds(
        lambda name, args: "42/live," + json.dumps([name, *args]),
        event_names,
        st.lists(json_values, max_size=3),
    ),
    st.builds(
        lambda name, ack, payload: f"42/live,{ack}" + json.dumps([name, payload]),
        event_names,
        st.integers(0, 10**6),
        json_values,
    ),
    st.builds(
        lambda prefix, text: prefix + text,
        st.sampled_from(["4", "42", "40", "41", "43/live,", "45", "2", "3", "6", ""]),
        st.text(max_size=40),
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(frames, min_size=1, max_size=8))
def test_random_socketio_frames(server, batch):
    viewer = RawViewer(server.url)
    try:
        for frame in batch:
            try:
                viewer.ws.send(frame)
            except OSError:
                break  # the server closed this one connection: allowed
    finally:
        viewer.close()


params = st.dictionaries(
    st.sampled_from(["keys", "since", "until", "step", "format", "x"]),
    st.text(max_size=30)
    | st.sampled_from(["nan", "inf", "-1e308", "1e308", "-0", "cpu.total", "a" * 1500, "csv"]),
    max_size=5,
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(
        [
            "/api/v1/hosts/{h}/history",
            "/api/v1/hosts/{h}/keys",
            "/api/v1/hosts/{h}/sample",
            "/api/v1/hosts/{h}",
            "/api/v1/hosts/%00/history",
            "/metrics",
            "/healthz",
        ]
    ),
    query=params,
    host=st.text(max_size=20),
)
def test_random_rest_parameters(server, path, query, host):
    real = json.loads(http_get(server.url + "/api/v1/hosts")[2])["hosts"][0]["id"]
    target = path.format(h=urllib.parse.quote(host or real, safe=""))
    if host == "":
        target = path.format(h=real)
    status, headers, body = http_get(server.url + target + "?" + urllib.parse.urlencode(query))
    assert status < 500 or (status == 503 and b"no sample yet" in body), (target, query, status)
    csv = headers.get("Content-Type", "").startswith("text/csv")
    if target.startswith("/api/") and status != 414 and not csv:  # 414: the WSGI server
        json.loads(body)


def test_a_normal_viewer_is_served_after_the_fuzzing(server):
    viewer = RawViewer(server.url)
    try:
        hello, _ = viewer.wait_for("hello")
        assert hello["protocol"] >= 1
        for _ in range(2):
            viewer.wait_for("sample")
    finally:
        viewer.close()
    assert "Traceback" not in server.output()
