"""The test bed's cluster DNS: names of services and of StatefulSet pods, from the API.

A small resolver (dnslib for the wire format) in the test bed's own process, its UDP socket
made inside a real node's network namespace on the node IP, port 53; kubelet's clusterDNS
points pods at it, and commands run on the node (netns.NodeNamespaces.command_prefix) see
it in /etc/resolv.conf. It answers, like CoreDNS's kubernetes plugin, for cluster.local:

    <service>.<ns>.svc.cluster.local          a ClusterIP service: its cluster IP
                                              a headless service: the IPs of its pods
    <hostname>.<service>.<ns>.svc.cluster.local
                                              a pod with that spec.hostname and spec.subdomain
                                              (a StatefulSet's pods) selected by the headless
                                              service: the brokers' advertised names

A headless service's pods count when ready, or always with publishNotReadyAddresses (what
a Kafka StatefulSet sets, so brokers find each other before they are ready). Other names
get REFUSED: there is no upstream, the node has no way out. Pods and services are
watched, so a new pod's name resolves as soon as it has an IP.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from dnslib import QTYPE, RCODE, RR, A, DNSRecord
from kubernetes import client, watch

from kubetestbed import netns

CLUSTER_DOMAIN = "cluster.local"
TTL_S = 5
WATCH_TIMEOUT_S = 10  # a watch ends and is renewed this often (its thread notices stop() by then)


@dataclass(frozen=True)
class PodEntry:
    namespace: str
    labels: dict[str, str]
    hostname: str
    subdomain: str
    ip: str
    ready: bool


@dataclass(frozen=True)
class ServiceEntry:
    namespace: str
    name: str
    cluster_ip: str
    selector: dict[str, str]
    publish_not_ready: bool

    @property
    def headless(self) -> bool:
        return self.cluster_ip in ("", "None")


class ClusterRecords:
    """What the resolver knows, kept current from the API by two watches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.pods: dict[str, PodEntry] = {}
        self.services: dict[tuple[str, str], ServiceEntry] = {}

    def put_pod(self, uid: str, pod: PodEntry | None) -> None:
        with self._lock:
            if pod is None:
                self.pods.pop(uid, None)
            else:
                self.pods[uid] = pod

    def clear(self, kind: str) -> None:
        with self._lock:
            (self.pods if kind == "pods" else self.services).clear()

    def put_service(self, key: tuple[str, str], service: ServiceEntry | None) -> None:
        with self._lock:
            if service is None:
                self.services.pop(key, None)
            else:
                self.services[key] = service

    def lookup(self, name: str) -> list[str] | None:
        """The A records of `name` (None: not a name of this cluster)."""
        labels = name.lower().rstrip(".").split(".")
        suffix = ["svc", *CLUSTER_DOMAIN.split(".")]
        if labels[-len(suffix):] != suffix:
            return None
        parts = labels[:-len(suffix)]
        with self._lock:
            if len(parts) == 2:
                service = self.services.get((parts[1], parts[0]))
                if service is None:
                    return []
                if not service.headless:
                    return [service.cluster_ip]
                return sorted(pod.ip for pod in self._selected(service))
            if len(parts) == 3:
                hostname, service_name, namespace = parts
                service = self.services.get((namespace, service_name))
                if service is None or not service.headless:
                    return []
                return [pod.ip for pod in self._selected(service)
                        if pod.hostname == hostname and pod.subdomain == service_name]
        return []

    def _selected(self, service: ServiceEntry) -> list[PodEntry]:
        if not service.selector:
            return []
        return [pod for pod in self.pods.values()
                if pod.namespace == service.namespace and pod.ip
                and (pod.ready or service.publish_not_ready)
                and all(pod.labels.get(key) == value for key, value in service.selector.items())]


def _pod_entry(pod: client.V1Pod) -> PodEntry | None:
    status = pod.status
    if status is None or not status.pod_ip or status.phase in ("Succeeded", "Failed"):
        return None
    ready = any(c.type == "Ready" and c.status == "True" for c in status.conditions or [])
    return PodEntry(namespace=pod.metadata.namespace, labels=dict(pod.metadata.labels or {}),
                    hostname=(pod.spec.hostname or "").lower(), subdomain=(pod.spec.subdomain or "").lower(),
                    ip=status.pod_ip, ready=ready)


def _service_entry(service: client.V1Service) -> ServiceEntry:
    return ServiceEntry(namespace=service.metadata.namespace, name=service.metadata.name,
                        cluster_ip=service.spec.cluster_ip or "", selector=dict(service.spec.selector or {}),
                        publish_not_ready=bool(service.spec.publish_not_ready_addresses))


class ClusterDns:
    """Serves ClusterRecords on UDP `address`:53 inside the network namespace `netns_path`."""

    def __init__(self, api: client.ApiClient, netns_path: Path, address: str, port: int = 53) -> None:
        self.address = address
        self.records = ClusterRecords()
        self._api = api
        self._stopping = threading.Event()
        with netns.entered(netns_path):
            self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._socket.bind((address, port))
        self._socket.settimeout(0.5)
        self._threads = [
            threading.Thread(target=self._serve, name="cluster-dns", daemon=True),
            threading.Thread(target=self._watch_pods, name="cluster-dns-pods", daemon=True),
            threading.Thread(target=self._watch_services, name="cluster-dns-services", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._threads[0].join(timeout=5)  # the server: at most one socket timeout
        self._socket.close()
        # The watchers end when their watch does (within WATCH_TIMEOUT_S, daemon threads):
        # waiting for them would add seconds to every stop for nothing.

    # ------------------------------------------------------------------ serving

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                data, peer = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                reply = self.answer(DNSRecord.parse(data))
                self._socket.sendto(reply.pack(), peer)
            except Exception:  # noqa: BLE001, S110 - a malformed packet gets no answer; the server goes on
                pass

    def answer(self, query: DNSRecord) -> DNSRecord:
        reply = query.reply()
        name = str(query.q.qname)
        addresses = self.records.lookup(name)
        if addresses is None:
            reply.header.rcode = RCODE.REFUSED
        elif not addresses:
            reply.header.rcode = RCODE.NXDOMAIN
        elif query.q.qtype in (QTYPE.A, QTYPE.ANY):
            for address in addresses:
                reply.add_answer(RR(name, QTYPE.A, rdata=A(address), ttl=TTL_S))
        # Any other type of an existing name (AAAA, ...): an empty NOERROR answer.
        return reply

    # ------------------------------------------------------------------ watching the API

    def _watch_pods(self) -> None:
        core = client.CoreV1Api(self._api)
        self._watch("pods", core.list_pod_for_all_namespaces,
                    lambda pod: self.records.put_pod(pod.metadata.uid, _pod_entry(pod)),
                    lambda pod: self.records.put_pod(pod.metadata.uid, None))

    def _watch_services(self) -> None:
        core = client.CoreV1Api(self._api)

        def key(service: client.V1Service) -> tuple[str, str]:
            return service.metadata.namespace, service.metadata.name

        self._watch("services", core.list_service_for_all_namespaces,
                    lambda service: self.records.put_service(key(service), _service_entry(service)),
                    lambda service: self.records.put_service(key(service), None))

    def _watch(self, kind: str, list_call, put, delete) -> None:
        resource_version = ""
        while not self._stopping.is_set():
            try:
                if not resource_version:  # (re)list, then watch from there
                    listed = list_call()
                    self.records.clear(kind)  # what was deleted while no watch ran goes too
                    for item in listed.items:
                        put(item)
                    resource_version = listed.metadata.resource_version
                for event in watch.Watch().stream(list_call, resource_version=resource_version,
                                                  timeout_seconds=WATCH_TIMEOUT_S):
                    obj = event["object"]
                    resource_version = obj.metadata.resource_version
                    (delete if event["type"] == "DELETED" else put)(obj)
                    if self._stopping.is_set():
                        return
            except Exception:  # noqa: BLE001 - apiserver going away at stop, or a 410 Gone: relist
                resource_version = ""
                self._stopping.wait(1.0)
