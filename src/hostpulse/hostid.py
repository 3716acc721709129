"""The one rule for a host id: what ``host_id`` may be set to, what an agent may publish
under, what a viewer may ask to watch and what a URL may name.

1 to 128 characters, none of them ``/`` (it appears in URLs and Redis keys), white space or a
control character (it appears in log lines and on the page).
"""

from __future__ import annotations

MAX_LENGTH = 128
RULE = f"1 to {MAX_LENGTH} characters without '/', white space or control characters"


def is_valid(host_id: object) -> bool:
    return (
        isinstance(host_id, str)
        and 0 < len(host_id) <= MAX_LENGTH
        and "/" not in host_id
        and host_id.isprintable()
        and not any(c.isspace() for c in host_id)
    )
