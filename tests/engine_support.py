"""A unix socket server of a test's own, standing in for a container engine that answers,
answers garbage or hangs (a real socket: the client under test does real connects and reads)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path


class SocketServer:
    """Accepts on a real unix socket and answers each connection with ``respond(request)``:
    bytes to send, or None to say nothing (a hanging engine)."""

    def __init__(self, path: Path, respond) -> None:
        self.path = str(path)
        self.respond = respond
        self.requests: list[str] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(16)
        self.open: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            request = conn.recv(65536).decode("latin-1")
            self.requests.append(request.split("\r\n", 1)[0])
            answer = self.respond(request)
            if answer is None:
                self.open.append(conn)  # never answered, closed at the end
                continue
            conn.sendall(answer)
            conn.close()

    def close(self) -> None:
        self.sock.close()
        for conn in self.open:
            conn.close()
