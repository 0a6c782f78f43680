"""Secured clusters: SASL (PLAIN or SCRAM) and TLS for brokers, perf tools and kafkalab's own client.

Where secrets go, and where they never go:
- the broker configs and the perf tools' client properties carry them, in files created
  0600 in the run directory (kafkalab.properties); Kafka logs those values as [hidden];
- never on a command line (`ps`), in a log line, an artifact, the stored spec or a result
  row: the spec holds a reference (kafkalab.secrets), `repr` of these objects hides them.

Layout of a secured local cluster: the broker listener (clients and replication) speaks the
spec's protocol; the controller quorum keeps its own PLAINTEXT listener on loopback. Brokers
authenticate to each other with SASL/PLAIN as an internal user whose password is random per
cluster; clients use the spec's user and mechanism. SCRAM users are created through the
admin API once the brokers are up (Kafka stores SCRAM credentials in the cluster metadata).
TLS material (a CA and a certificate for 127.0.0.1, both PEM) is made per cluster.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import secrets as _random
from dataclasses import dataclass, field
from pathlib import Path

from kafkalab.core import secrets

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
INTERNAL_USER = "kafkalab-broker"  # brokers' own SASL user for replication and kafkalab's admin calls
SCRAM_ITERATIONS = 8192

# Client settings that carry or select credentials: kafkalab writes them from cluster.security,
# so a spec must not (a value there would be stored with the run).
RESERVED_CLIENT_KEYS = frozenset({
    "security.protocol", "sasl.mechanism", "sasl.jaas.config", "sasl.username", "sasl.password",
    "ssl.truststore.location", "ssl.truststore.password", "ssl.truststore.type", "ssl.truststore.certificates",
    "ssl.keystore.location", "ssl.keystore.password", "ssl.keystore.type", "ssl.keystore.key",
    "ssl.keystore.certificate.chain", "ssl.key.password",
})


def _jaas(module: str, **options: str) -> str:
    quoted = " ".join(f'{k}="{_jaas_escape(v)}"' for k, v in options.items())
    return f"{module} required {quoted};"


def _jaas_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


_PLAIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"
_SCRAM_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"


@dataclass(frozen=True)
class ClientSecurity:
    """How one client authenticates: what the perf tools' properties and librdkafka need."""

    protocol: str = "PLAINTEXT"
    mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    # A client certificate (brokers with ssl.client.auth): its chain and key as PEM files, and
    # both in one file for the Java clients, whose PEM keystore wants them together.
    certificate_file: Path | None = None
    key_file: Path | None = None
    keystore_file: Path | None = None
    key_password: str | None = field(default=None, repr=False)

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.protocol.endswith("SSL")

    def java_properties(self) -> dict[str, str]:
        """Client settings for Kafka's Java tools (producer/consumer perf, admin tools)."""
        if self.protocol == "PLAINTEXT":
            return {}
        props = {"security.protocol": self.protocol}
        if self.uses_sasl:
            module = _PLAIN_MODULE if self.mechanism == "PLAIN" else _SCRAM_MODULE
            props["sasl.mechanism"] = str(self.mechanism)
            props["sasl.jaas.config"] = _jaas(module, username=str(self.username), password=str(self.password))
        if self.uses_tls and self.ca_file is not None:
            props["ssl.truststore.type"] = "PEM"
            props["ssl.truststore.location"] = str(self.ca_file)
        if self.uses_tls and self.keystore_file is not None:
            props["ssl.keystore.type"] = "PEM"
            props["ssl.keystore.location"] = str(self.keystore_file)
            if self.key_password:
                props["ssl.key.password"] = self.key_password
        return props

    def librdkafka_config(self) -> dict[str, str]:
        """The same for kafkalab's own admin client (confluent-kafka / librdkafka names)."""
        if self.protocol == "PLAINTEXT":
            return {}
        config = {"security.protocol": self.protocol.lower()}
        if self.uses_sasl:
            config.update({"sasl.mechanisms": str(self.mechanism), "sasl.username": str(self.username),
                           "sasl.password": str(self.password)})
        if self.uses_tls and self.ca_file is not None:
            config["ssl.ca.location"] = str(self.ca_file)
        if self.uses_tls and self.certificate_file is not None and self.key_file is not None:
            config["ssl.certificate.location"] = str(self.certificate_file)
            config["ssl.key.location"] = str(self.key_file)
            if self.key_password:
                config["ssl.key.password"] = self.key_password
        return config


PLAINTEXT = ClientSecurity()


@dataclass(frozen=True)
class Endpoint:
    """Where a cluster answers and how to authenticate there: what every Kafka client call needs."""

    servers: str
    security: ClientSecurity = PLAINTEXT

    def __str__(self) -> str:
        return self.servers


def endpoint_of(target: str | Endpoint) -> Endpoint:
    """A bare bootstrap string is a PLAINTEXT endpoint (tests, unsecured clusters)."""
    return target if isinstance(target, Endpoint) else Endpoint(target)


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    broker_keystore: Path  # private key + certificate chain, PEM


@dataclass(frozen=True)
class ClusterSecurity:
    """The security of one cluster: protocol, users with their (resolved) passwords, TLS files."""

    protocol: str
    mechanism: str
    username: str
    password: str = field(repr=False)
    internal_password: str = field(repr=False)
    tls: TlsFiles | None = None

    @classmethod
    def create(cls, protocol: str, mechanism: str, username: str, password_ref: str | None,
               directory: Path) -> ClusterSecurity:
        """Resolve the user's password (or make one) and, for TLS, write the cluster's CA and certificate."""
        password = (secrets.resolve(password_ref, "cluster.security.password") if password_ref
                    else _random.token_urlsafe(24))
        tls = write_tls_files(directory / "tls") if protocol.endswith("SSL") else None
        return cls(protocol, mechanism, username, password, _random.token_urlsafe(24), tls)

    @property
    def listener(self) -> str:
        return self.protocol  # the broker listener is named after its protocol

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def needs_scram_user(self) -> bool:
        return self.uses_sasl and self.mechanism.startswith("SCRAM-")

    def broker_properties(self) -> dict[str, str]:
        """Broker settings for the secured listener (the listener itself is set by the platform)."""
        props: dict[str, str] = {}
        prefix = f"listener.name.{self.listener.lower()}"
        if self.uses_sasl:
            users = {f"user_{INTERNAL_USER}": self.internal_password}
            if self.mechanism == "PLAIN":
                users[f"user_{self.username}"] = self.password
            props["sasl.enabled.mechanisms"] = ",".join(dict.fromkeys(["PLAIN", self.mechanism]))
            props["sasl.mechanism.inter.broker.protocol"] = "PLAIN"
            props[f"{prefix}.plain.sasl.jaas.config"] = _jaas(
                _PLAIN_MODULE, username=INTERNAL_USER, password=self.internal_password, **users
            )
            if self.mechanism != "PLAIN":
                props[f"{prefix}.{self.mechanism.lower()}.sasl.jaas.config"] = f"{_SCRAM_MODULE} required;"
        if self.tls is not None:
            props.update({
                "ssl.keystore.type": "PEM", "ssl.keystore.location": str(self.tls.broker_keystore),
                "ssl.truststore.type": "PEM", "ssl.truststore.location": str(self.tls.ca_cert),
            })
        return props

    def internal_client(self) -> ClientSecurity:
        """kafkalab's own admin calls: the brokers' internal user over PLAIN (exists from the start)."""
        return self._client("PLAIN", INTERNAL_USER, self.internal_password)

    def user_client(self) -> ClientSecurity:
        """The perf tools: the spec's user and mechanism."""
        return self._client(self.mechanism, self.username, self.password)

    def _client(self, mechanism: str, username: str, password: str) -> ClientSecurity:
        ca = self.tls.ca_cert if self.tls else None
        if not self.uses_sasl:
            return ClientSecurity(self.protocol, ca_file=ca)
        return ClientSecurity(self.protocol, mechanism, username, password, ca)


def write_tls_files(directory: Path, *, days: int = 7) -> TlsFiles:
    """A throw-away CA and a broker certificate for 127.0.0.1/localhost, as PEM files (key 0600)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = _dt.datetime.now(_dt.timezone.utc)
    start, end = now - _dt.timedelta(minutes=5), now + _dt.timedelta(days=days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kafkalab cluster CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    broker_key = ec.generate_private_key(ec.SECP256R1())
    broker_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(broker_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
                                              x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file = _write_private(directory / "ca.pem", ca_cert.public_bytes(pem))
    keystore = _write_private(
        directory / "broker.pem",
        broker_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + broker_cert.public_bytes(pem) + ca_cert.public_bytes(pem),
    )
    return TlsFiles(ca_file, keystore)


def write_private(path: Path, data: bytes) -> Path:
    """Write `data` to a file readable by its owner only (0600 from the start)."""
    return _write_private(path, data)


def _write_private(path: Path, data: bytes) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path
