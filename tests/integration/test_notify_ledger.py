"""The Redis ledger against a real redis-server: claims with leases, done markers, renewal by
the owner only, takeover after a sender died; and Notifiers sharing it, each transition
delivered once whichever of them submits it."""

from __future__ import annotations

import time

import pytest

from hostpulse.alerts.transition import CRITICAL, FIRING, Transition
from hostpulse.config import Settings
from hostpulse.notify.ledger import DONE, DONE_KEEP, HELD, MINE, RedisLedger
from hostpulse.notify.notifier import DUPLICATE, SENT, Notifier
from hostpulse.notify.targets import build_targets
from notify_support import JsonReceiver
from redis_support import REDIS_SERVER, RedisServer
from support import require

pytestmark = pytest.mark.integration
require(None if REDIS_SERVER else "redis-server not installed (apt-get install redis-server)")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server.url()
    server.stop()


def test_one_claim_at_a_time_and_done_for_everyone(redis_url):
    a, b = RedisLedger(redis_url, owner="a"), RedisLedger(redis_url, owner="b")
    assert a.claim("k1").status == MINE
    assert a.claim("k1").status == MINE  # asking again renews, still ours
    held = b.claim("k1")
    assert held.status == HELD and 0 < held.wait <= a.lease
    a.finish("k1", "sent")
    assert b.claim("k1").status == DONE and a.claim("k1").status == DONE
    assert b.result("k1") == "sent"
    ttl = a._redis.ttl(RedisLedger.keys("k1")[1])
    assert DONE_KEEP - 60 < ttl <= DONE_KEEP  # kept about 31 days
    assert not a._redis.exists(RedisLedger.keys("k1")[0])  # the claim let go


def test_only_the_owner_renews_and_a_lapsed_lease_is_taken_over(redis_url):
    a = RedisLedger(redis_url, lease=0.3, owner="a")
    b = RedisLedger(redis_url, lease=0.3, owner="b")
    assert a.claim("k2").status == MINE
    assert not b.renew("k2")
    for _ in range(4):  # renewed while delivering: held past its first lease
        time.sleep(0.15)
        assert a.renew("k2")
    assert b.claim("k2").status == HELD
    time.sleep(0.4)  # a died: no renewal
    assert b.claim("k2").status == MINE
    assert not a.renew("k2")  # a, back from a pause, knows it lost the claim


def transition(rule: str = "cpu-busy") -> Transition:
    now = time.time()
    return Transition("web1", rule, "cpu.total", FIRING, CRITICAL, now, 97.0, now - 60)


def notifier(url: str, redis_url: str, owner: str, lease: float = 2.0) -> Notifier:
    targets = build_targets(Settings(notify_urls=(url,)))
    return Notifier(targets, RedisLedger(redis_url, lease=lease, owner=owner))


def test_two_workers_submitting_the_same_transitions_send_each_once(redis_url):
    with JsonReceiver() as hook:
        workers = [notifier(hook.url(), redis_url, f"w{i}") for i in range(2)]
        for worker in workers:
            worker.start()
        try:
            fired = [transition(f"rule{i}") for i in range(5)]
            for t in fired:
                for worker in workers:
                    worker.submit(t)
            hook.wait_for(5)
            deadline = time.monotonic() + 10
            while any(w.pending for w in workers) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(hook.messages) == 5
            assert sorted(m["title"].split()[1] for m in hook.messages) == [
                f"rule{i}" for i in range(5)
            ]
            assert sum(w.counts[SENT] for w in workers) == 5
            assert sum(w.counts[DUPLICATE] for w in workers) == 5
        finally:
            for worker in workers:
                worker.stop()


def test_a_slow_send_keeps_its_claim_and_the_other_worker_waits_it_out(redis_url):
    # The receiver answers after 2 s, past the 0.6 s lease: only renewals keep the claim.
    with JsonReceiver(delay=2.0) as hook:
        first = notifier(hook.url(), redis_url, "slow", lease=0.6)
        second = notifier(hook.url(), redis_url, "other", lease=0.6)
        first.start()
        t = transition("slow-send")
        first.submit(t)
        hook.wait_for(1)  # the first is inside its send now
        second.start()
        second.submit(t)
        try:
            deadline = time.monotonic() + 10
            while second.counts[DUPLICATE] == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert second.counts[DUPLICATE] == 1
            assert len(hook.messages) == 1 and first.counts[SENT] == 1
        finally:
            first.stop()
            second.stop()


def test_a_sender_that_died_holding_the_claim_is_taken_over_once(redis_url):
    with JsonReceiver() as hook:
        t = transition("orphan")
        survivor = notifier(hook.url(), redis_url, "survivor", lease=1.0)
        key = f"{t.id}:{survivor.targets[0].key}"
        # The dead worker claimed it (lease 1 s) and never sent.
        assert RedisLedger(redis_url, lease=1.0, owner="dead").claim(key).status == MINE
        survivor.start()
        survivor.submit(t)
        try:
            time.sleep(0.5)
            assert hook.messages == []  # parked while the lease runs
            hook.wait_for(1, timeout=5)
            time.sleep(0.5)
            assert len(hook.messages) == 1
            assert survivor.ledger.result(key) == SENT
        finally:
            survivor.stop()


def test_the_worker_acl_user_may_use_the_ledger(redis_url):
    import redis

    from hostpulse.remote import acl

    admin = redis.Redis.from_url(redis_url)
    admin.execute_command("ACL", "SETUSER", "notify-worker", *acl.worker_rules("pw"))
    url = redis_url.replace("redis://", "redis://notify-worker:pw@")
    ledger = RedisLedger(url, owner="acl")
    admin.script_flush()  # the first call loads the script (SCRIPT LOAD), then EVALSHA
    assert ledger.claim("acl-k").status == MINE
    assert ledger.renew("acl-k")
    ledger.finish("acl-k", "sent")
    assert ledger.result("acl-k") == "sent"
    with pytest.raises(redis.exceptions.NoPermissionError):  # still no other writes
        redis.Redis.from_url(url).set("hostpulse:host:x", "1")
