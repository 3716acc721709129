"""Redis ACL users that keep each agent to its own host's keys and workers to reading.

Redis is the trust boundary (docs/SECURITY.md): any client that may write there can pose as
any host. With one ACL user per agent, allowed only the keys of its own host id
(remote/wire.py) and only the commands the publisher sends, a leaked agent password can fake
that one host and nothing else; a worker's user reads every host, writes only the want keys
of on-demand tables and the notification ledger's keys, and talks on Flask-SocketIO's
channel. ``hostpulse redis-acl`` prints these lines.
"""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import quote

from hostpulse.remote import wire

#: Flask-SocketIO's Redis message-queue channel (workers share viewers' events through it).
SOCKETIO_CHANNEL = "flask-socketio"
#: What the publisher sends (remote/publisher.py): the lease script's GET/SET/DEL included.
#: (redis-py's CLIENT SETINFO on connect may be refused: it goes on without.)
AGENT_COMMANDS = ("ping", "eval", "get", "set", "del", "hset", "xadd", "zadd", "exists",
                  "pexpire")  # fmt: skip
#: What the reader and Socket.IO's Redis manager send (remote/reader.py, remote/demand.py),
#: and the alert episodes' shared starts (alerts/shared.py: SET NX GET, a compare-and-delete
#: script, refreshes).
WORKER_COMMANDS = ("ping", "zrange", "hgetall", "xread", "xrevrange", "set", "publish",
                   "subscribe", "unsubscribe",
                   # the notification ledger's scripts and reads (notify/ledger.py)
                   "evalsha", "eval", "script|load", "get", "exists", "pexpire", "pttl",
                   "del")  # fmt: skip
#: The notification ledger's claims and done markers, which every worker writes.
NOTIFY_KEYS = "notify:*"
#: Alert episodes' shared starts (alerts/shared.py), which every worker writes.
ALERT_KEYS = "alert:*"


def glob_literal(text: str) -> str:
    """``text`` matched literally by a Redis key pattern (a host id may hold ``*?[]\\``)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def agent_user(host_id: str) -> str:
    return f"hostpulse-agent-{host_id}"


WORKER_USER = "hostpulse-worker"


def agent_rules(host_id: str, password: str) -> list[str]:
    """ACL rules for the agent publishing ``host_id``: its own keys, the hosts set, and read
    access to its want keys."""
    own = [
        wire.stream_key(host_id),
        wire.host_key(host_id),
        wire.lease_key(host_id),
        *(wire.table_key(host_id, table) for table in wire.ON_DEMAND),
    ]
    wants = [wire.want_key(host_id, table) for table in wire.ON_DEMAND]
    return [
        "on",
        "#" + _sha256(password),
        "resetkeys",
        "resetchannels",
        *("~" + glob_literal(key) for key in own),
        "~" + glob_literal(wire.HOSTS),
        *("%R~" + glob_literal(key) for key in wants),
        "-@all",
        *("+" + command for command in AGENT_COMMANDS),
    ]


def worker_rules(password: str) -> list[str]:
    """ACL rules for a worker: reads every hostpulse key, writes only want keys and the
    notification ledger's."""
    return [
        "on",
        "#" + _sha256(password),
        "resetkeys",
        "resetchannels",
        "%R~" + glob_literal(wire.PREFIX) + "*",
        "%W~" + glob_literal(wire.PREFIX) + "want:*",
        # Read and write in one pattern: a script's key must have both in one.
        "~" + glob_literal(wire.PREFIX) + NOTIFY_KEYS,
        "~" + glob_literal(wire.PREFIX) + ALERT_KEYS,
        "&" + SOCKETIO_CHANNEL,
        "-@all",
        *("+" + command for command in WORKER_COMMANDS),
    ]


def new_password() -> str:
    return secrets.token_urlsafe(24)


def url_for(user: str, password: str, where: str = "REDIS-HOST:6379/0") -> str:
    return f"redis://{quote(user, safe='')}:{quote(password, safe='')}@{where}"


def _sha256(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()
