"""Services of the flow machine, listening on the host's 127.0.0.1 only (the Prefect API, the
results PostgreSQL), made reachable from a real node's pods: a flow run in a work pool's Job
reports to Prefect and stores its results there.

    with HostServicesForPods(node) as services:
        api = services.url("http://127.0.0.1:4200/api")          # http://10.250.0.2:41234/api
        db = services.url("postgresql://postgres@127.0.0.1:5432/kafkalab")

Each port gets a forwarder (forward.py) whose listener lives inside the node's network
namespace, on the node IP, and whose connections go to the host's 127.0.0.1: the host keeps
listening on loopback only, nothing listens on the bridge's host end, and pods reach the
node IP over their own bridge as they reach the cluster DNS. For the service, every client
comes from 127.0.0.1 (PostgreSQL's loopback rules apply).
"""

from __future__ import annotations

from typing import Self
from urllib.parse import urlsplit, urlunsplit

from kubetestbed.forward import LoopbackForwarder
from kubetestbed.realnode import RealNode

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


class HostServicesForPods:
    def __init__(self, node: RealNode) -> None:
        self.node = node
        self._forwarders: dict[int, LoopbackForwarder] = {}  # host port -> its forwarder

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def address(self, host_port: int) -> tuple[str, int]:
        """Where the node's pods reach the host's 127.0.0.1:`host_port` (node IP, forwarder port)."""
        forwarder = self._forwarders.get(host_port)
        if forwarder is None:
            forwarder = LoopbackForwarder(self.node.namespaces.netns_path, host_port, listen_host=self.node.node_ip)
            self._forwarders[host_port] = forwarder
        return forwarder.listen_host, forwarder.port

    def url(self, url: str) -> str:
        """`url` (a service on the host's loopback) as the node's pods reach it: same scheme,
        user, path and query; host and port those of the forwarder on the node IP."""
        parts = urlsplit(url)
        if parts.hostname not in LOOPBACK_HOSTS or parts.port is None:
            raise ValueError(f"url must name a port on the host's 127.0.0.1, not {parts.hostname}:{parts.port}")
        host, port = self.address(parts.port)
        user = parts.netloc.rpartition("@")[0]
        netloc = f"{user}@{host}:{port}" if user else f"{host}:{port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    def stop(self) -> None:
        for forwarder in self._forwarders.values():
            forwarder.stop()
        self._forwarders.clear()
