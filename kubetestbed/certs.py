"""The control plane's PKI, made fresh for each test bed: nothing is reused or trusted outside it.

One CA signs the apiserver's serving cert, kwok's (the fake kubelets' server, which the
apiserver calls for pod logs) and the admin's client cert (group system:masters, so RBAC
lets it do anything). A separate RSA key signs service-account tokens.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_FOR = dt.timedelta(days=2)  # a test bed lives minutes; a short life limits any leak


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    ca_key: Path
    apiserver_cert: Path
    apiserver_key: Path
    kubelet_cert: Path  # served by kwok on behalf of every fake node
    kubelet_key: Path
    admin_cert: Path
    admin_key: Path
    service_account_key: Path  # private: the controller-manager signs tokens with it
    service_account_pub: Path  # public: the apiserver verifies them


def make_pki(directory: Path, apiserver_ips: tuple[str, ...] = ()) -> Pki:
    """`apiserver_ips`: more IP SANs of the apiserver's cert (the `kubernetes` service's IP,
    which pods on real nodes connect to)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kafkalab-testbed-ca")])
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)  # tolerate small clock skew
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(name: str, common_name: str, *, organization: str | None = None, server: bool,
             ips: tuple[str, ...] = ()) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        if organization:
            attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes)).issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + VALID_FOR)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        )
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.DNSName("kubernetes"), x509.DNSName("kubernetes.default"),
                x509.DNSName("kubernetes.default.svc"), x509.DNSName("kubernetes.default.svc.cluster.local"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                *[x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips],
            ]), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        return _write_cert(directory / f"{name}.crt", cert), _write_key(directory / f"{name}.key", key)

    apiserver_cert, apiserver_key = leaf("apiserver", "kube-apiserver", server=True, ips=apiserver_ips)
    kubelet_cert, kubelet_key = leaf("kubelet", "kwok-kubelet", server=True)
    admin_cert, admin_key = leaf("admin", "kafkalab-admin", organization="system:masters", server=False)

    # Service-account tokens are RS256 by default: the signing key must be RSA.
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sa_pub = directory / "service-account.pub"
    sa_pub.write_bytes(sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return Pki(
        ca_cert=_write_cert(directory / "ca.crt", ca_cert), ca_key=_write_key(directory / "ca.key", ca_key),
        apiserver_cert=apiserver_cert, apiserver_key=apiserver_key,
        kubelet_cert=kubelet_cert, kubelet_key=kubelet_key,
        admin_cert=admin_cert, admin_key=admin_key,
        service_account_key=_write_key(directory / "service-account.key", sa_key), service_account_pub=sa_pub,
    )


def _write_cert(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _write_key(path: Path, key) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return path


@dataclass(frozen=True)
class NodeCerts:
    serving_cert: Path  # kubelet's server (the apiserver checks it against the CA, by the node IP)
    serving_key: Path
    client_cert: Path  # system:node:<name> in system:nodes: the Node authorizer's identity
    client_key: Path


def make_node_certs(pki: Pki, directory: Path, node_name: str, node_ip: str) -> NodeCerts:
    """A real node's kubelet certs, signed by the test bed's CA."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)

    def leaf(name: str, attributes: list[x509.NameAttribute], server: bool) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes)).issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + VALID_FOR)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        )
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.DNSName(node_name), x509.IPAddress(ipaddress.ip_address(node_ip)),
            ]), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        return _write_cert(directory / f"{name}.crt", cert), _write_key(directory / f"{name}.key", key)

    serving_cert, serving_key = leaf("kubelet-serving", [x509.NameAttribute(NameOID.COMMON_NAME, node_name)],
                                     server=True)
    client_cert, client_key = leaf("kubelet-client", [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{node_name}"),
    ], server=False)
    return NodeCerts(serving_cert, serving_key, client_cert, client_key)
