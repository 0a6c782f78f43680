"""The node's way to the apiserver: a TCP forwarder listening inside the node's network
namespace (on its 127.0.0.1 for kubelet, on the node IP for pods), connecting to the
apiserver on the host's 127.0.0.1.

The apiserver stays bound to the host's loopback only (the kwok tests and every client use
it there), and nothing listens on the veth's host end. A socket keeps the namespace it was
made in, so one thread makes the listener inside the node's namespace and everything else
runs in the host's: the bytes go loopback -> this process -> loopback, never over a link.
TLS is end to end (kubelet <-> apiserver); the forwarder only copies bytes.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from kubetestbed import netns

BUFFER = 65536


class LoopbackForwarder:
    def __init__(self, netns_path: Path, target_port: int, *, listen_host: str = "127.0.0.1",
                 target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.listen_host = listen_host  # an address of the node's namespace
        with netns.entered(netns_path):
            self._listener = socket.create_server((listen_host, 0))
        self.port = self._listener.getsockname()[1]  # in the node's namespace
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name=f"forward-{self.port}", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                inside, _ = self._listener.accept()
            except OSError:
                return  # closed by stop()
            try:
                outside = socket.create_connection(self.target, timeout=10)
            except OSError:
                inside.close()
                continue
            outside.settimeout(None)
            with self._lock:
                self._connections |= {inside, outside}
            pair = _Pair(inside, outside, self._forget)
            for source, sink in ((inside, outside), (outside, inside)):
                threading.Thread(target=pair.copy, args=(source, sink), daemon=True).start()

    def _forget(self, *socks: socket.socket) -> None:
        with self._lock:
            self._connections.difference_update(socks)

    def stop(self) -> None:
        self._stopping.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            for sock in self._connections:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._thread.join(timeout=5)


class _Pair:
    """One forwarded connection: two copiers. An end's EOF is passed on as a half-close (a
    client may send its request, shut its side and still read the answer); the sockets
    close when both directions are done, or at once on an error."""

    def __init__(self, inside: socket.socket, outside: socket.socket, forget) -> None:
        self._socks = (inside, outside)
        self._forget = forget
        self._open_directions = 2
        self._lock = threading.Lock()

    def copy(self, source: socket.socket, sink: socket.socket) -> None:
        failed = False
        try:
            while data := source.recv(BUFFER):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            failed = True
        with self._lock:
            self._open_directions -= 1
            done = failed or self._open_directions == 0
        if done:
            for sock in self._socks:
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # wakes the other copier, if still reading
                except OSError:
                    pass
                sock.close()
            self._forget(*self._socks)
