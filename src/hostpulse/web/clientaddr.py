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
        """The nearest address in the chain that is not one of our trusted proxies."""
        remote = environ.get("REMOTE_ADDR") or "-"
        if not self.is_trusted(remote):
            return remote
        forwarded = [a.strip() for a in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        for address in reversed([a for a in forwarded if a]):
            if not self.is_trusted(address):
                return address
        return remote

    def from_trusted_proxy(self, environ: Mapping[str, str]) -> bool:
        return self.is_trusted(environ.get("REMOTE_ADDR") or "")

    def forwarded_proto(self, environ: Mapping[str, str]) -> str | None:
        """``X-Forwarded-Proto`` (``http``/``https``) when a trusted proxy sent it, else None."""
        if not self.from_trusted_proxy(environ):
            return None
        proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[0].strip().lower()
        return proto if proto in ("http", "https") else None
