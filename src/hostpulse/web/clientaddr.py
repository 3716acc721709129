"""Who is asking: the client address, believing X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping


class ClientAddress:
    def __init__(self, trusted: Iterable[str]) -> None:
        self._trusted = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._trusted)

    def __call__(self, environ: Mapping[str, str]) -> str:
        """The right-most address in the chain that is not one of our trusted proxies.

        Only a trusted proxy's X-Forwarded-For is read, from the right (the entries it and
        the proxies before it appended) to the left (what the client itself sent). An entry
        that is not an address ends the walk: a proxy appends addresses, so it and all to
        its left came from the client, and the client is the last trusted hop seen.
        """
        remote = environ.get("REMOTE_ADDR") or "-"
        if not self.is_trusted(remote):
            return remote
        client = remote
        for entry in reversed(environ.get("HTTP_X_FORWARDED_FOR", "").split(",")):
            address = _address(entry)
            if address is None:
                break
            if not self.is_trusted(address):
                return address
            client = address
        return client

    def from_trusted_proxy(self, environ: Mapping[str, str]) -> bool:
        return self.is_trusted(environ.get("REMOTE_ADDR") or "")

    def forwarded_proto(self, environ: Mapping[str, str]) -> str | None:
        """``X-Forwarded-Proto`` (``http``/``https``) when a trusted proxy sent it, else None."""
        if not self.from_trusted_proxy(environ):
            return None
        proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[0].strip().lower()
        return proto if proto in ("http", "https") else None


def _address(entry: str) -> str | None:
    """The address in one X-Forwarded-For entry, normalized; None if it is none."""
    try:
        return str(ipaddress.ip_address(entry.strip()))
    except ValueError:
        return None
