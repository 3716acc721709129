"""The per-connection input budget and the connection caps, without sockets."""

from __future__ import annotations

import logging

from hostpulse.web.budget import InputBudget
from hostpulse.web.connections import FD_RESERVE, Connections, total_for


def test_a_budget_allows_its_burst_then_its_rate():
    budget = InputBudget(frame_rate=10, frame_burst=5, byte_rate=100, byte_burst=1000, now=0)
    assert all(budget.spend(1, 10, now=0) for _ in range(5))
    assert not budget.spend(1, 10, now=0)  # the sixth at once is one too many


def test_a_budget_refills_at_its_rate_up_to_its_burst():
    budget = InputBudget(frame_rate=10, frame_burst=5, byte_rate=100, byte_burst=1000, now=0)
    for _ in range(5):
        budget.spend(1, 0, now=0)
    assert budget.spend(1, 0, now=0.1)  # 0.1 s at 10/s: one more
    assert not budget.spend(1, 0, now=0.1)
    fresh = InputBudget(frame_rate=10, frame_burst=5, byte_rate=100, byte_burst=1000, now=0)
    assert sum(fresh.spend(1, 0, now=3600) for _ in range(10)) == 5  # an hour idle: the burst


def test_bytes_have_a_budget_of_their_own():
    budget = InputBudget(frame_rate=1000, frame_burst=1000, byte_rate=100, byte_burst=1000, now=0)
    assert budget.spend(1, 1000, now=0)
    assert not budget.spend(0, 1, now=0)


def test_a_steady_client_within_the_rate_is_never_refused():
    budget = InputBudget(now=0)
    assert all(budget.spend(1, 200, now=i / 10) for i in range(10_000))  # 10 a second


def connections(total=10, per_client=2, proxies=("127.0.0.1",)):
    return Connections(total, per_client, exempt=lambda address: address in proxies)


def test_per_client_cap_refuses_that_client_only(caplog):
    caps = connections()
    tickets = [caps.admit("10.0.0.1") for _ in range(2)]
    with caplog.at_level(logging.WARNING, "hostpulse.connections"):
        refused = [caps.admit("10.0.0.1") for _ in range(3)]
    assert all(isinstance(r, str) and "10.0.0.1 holds its maximum of 2" in r for r in refused)
    assert not isinstance(caps.admit("10.0.0.2"), str)
    assert caps.refused == {"total": 0, "per_client": 3, "rate": 0, "requests": 0}
    assert len(caplog.records) == 1  # one line for the episode, not one per refusal
    tickets[0].release()
    tickets[0].release()  # a second release gives back nothing more
    assert not isinstance(caps.admit("10.0.0.1"), str)
    assert isinstance(caps.admit("10.0.0.1"), str)


def test_a_trusted_proxy_is_capped_by_the_total_only():
    caps = connections(total=5, per_client=1)
    held = [caps.admit("127.0.0.1") for _ in range(5)]
    assert all(not isinstance(t, str) and t.from_proxy for t in held)
    refused = caps.admit("127.0.0.1")
    assert isinstance(refused, str) and "maximum of 5" in refused
    assert isinstance(caps.admit("10.0.0.9"), str)  # the total holds for everyone
    for ticket in held:
        ticket.release()
    assert caps.open == 0 and not caps._by_address


def test_the_total_leaves_the_descriptor_reserve():
    assert total_for(20_000) == 20_000 - FD_RESERVE
    assert total_for(20_000, wanted=500) == 500
    assert total_for(20_000, wanted=10**7) == 20_000 - FD_RESERVE  # never into the reserve
    assert total_for(100) == 16  # a tiny limit still serves a few


def test_an_address_opening_connections_too_fast_is_refused_then_let_back(monkeypatch):
    from hostpulse.web import connections as module

    clock = [1000.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: clock[0])
    caps = Connections(1000, 1000, exempt=lambda a: a == "127.0.0.1")
    opened = [caps.admit("10.0.0.1") for _ in range(int(module.CONNECT_BURST))]
    for ticket in opened:
        ticket.release()  # closed at once: only the rate counts here
    refused = caps.admit("10.0.0.1")
    assert isinstance(refused, str) and "more than 10 a second" in refused
    for _ in range(100):
        caps.admit("10.0.0.1")  # hammering while refused costs nothing more
    assert not isinstance(caps.admit("10.0.0.2"), str)  # another address is not affected
    assert all(not isinstance(caps.admit("127.0.0.1"), str) for _ in range(100))  # a proxy
    clock[0] += 0.5  # half a second at 10 a second: five more
    assert sum(not isinstance(caps.admit("10.0.0.1"), str) for _ in range(10)) == 5


def test_requests_are_budgeted_per_address_over_all_its_connections(monkeypatch):
    from hostpulse.web import connections as module

    monkeypatch.setattr(module.time, "monotonic", lambda: 1000.0)
    caps = Connections(1000, 1000, exempt=lambda a: a == "127.0.0.1")
    tickets = [caps.admit("10.0.0.1") for _ in range(10)]
    allowed = sum(caps.allow_request(tickets[i % 10]) for i in range(1000))
    assert allowed == int(module.REQUEST_BURST)  # not ten bursts: one, shared
    proxy = caps.admit("127.0.0.1")
    assert all(caps.allow_request(proxy) for _ in range(1000))
