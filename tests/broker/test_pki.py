"""The local certificate authority of Kafka's TLS listeners: the chain, the names and usages Kafka needs, the files'
modes and layout, what a second run keeps, and a real TLS handshake with client certificates. No broker."""

from __future__ import annotations

import ipaddress
import queue
import socket
import ssl
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import (
    ClientVerifier,
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    ServerVerifier,
    Store,
    VerificationError,
)
from typer.testing import CliRunner

from passerelle.broker.pki import (
    DevPki,
    IssuedCertificate,
    LocalCA,
    PkiError,
    ensure_dev_pki,
)
from passerelle.cli import app
from passerelle.stack.rights import principals

BROKER_NAMES = ["localhost", "kafka-1", "kafka-2", "kafka-3"]


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def contents(pki: DevPki) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(pki.folder.iterdir())}


def server_verifier(pki: DevPki, name: DNSName | IPAddress) -> ServerVerifier:
    return PolicyBuilder().store(Store([load(pki.ca_cert)])).build_server_verifier(name)


def client_verifier(pki: DevPki) -> ClientVerifier:
    # Kafka takes the principal from the subject: a client certificate needs no SAN, which the Web PKI defaults ask.
    ee = ExtensionPolicy.webpki_defaults_ee().may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
    return (
        PolicyBuilder()
        .store(Store([load(pki.ca_cert)]))
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee)
        .build_client_verifier()
    )


@pytest.fixture
def pki(tmp_path: Path) -> DevPki:
    return ensure_dev_pki(tmp_path / "tls", ["region-24", "router"])


def test_the_chain_verifies_for_every_broker_name_and_each_principal(pki: DevPki) -> None:
    broker, ca = load(pki.broker.cert), load(pki.ca_cert)
    for name in BROKER_NAMES:
        assert server_verifier(pki, DNSName(name)).verify(broker, []) == [broker, ca]
    assert server_verifier(pki, IPAddress(ipaddress.ip_address("127.0.0.1"))).verify(broker, []) == [broker, ca]
    with pytest.raises(VerificationError):
        server_verifier(pki, DNSName("kafka-4")).verify(broker, [])
    # The brokers present the same certificate to each other and to the controllers.
    assert client_verifier(pki).verify(broker, []).chain == [broker, ca]
    for principal, issued in pki.clients.items():
        client = load(issued.cert)
        assert client_verifier(pki).verify(client, []).chain == [client, ca]
        assert client.subject.rfc4514_string() == f"CN={principal}"
        # A client certificate cannot pose as a broker.
        with pytest.raises(VerificationError):
            server_verifier(pki, DNSName("localhost")).verify(client, [])


def test_names_usages_and_lifetimes_are_as_kafka_needs(pki: DevPki) -> None:
    ca, broker, client = load(pki.ca_cert), load(pki.broker.cert), load(pki.clients["region-24"].cert)
    ca_usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.subject.rfc4514_string().startswith("CN=Passerelle AC locale ") and ca.issuer == ca.subject
    assert ca_usage.key_cert_sign and ca_usage.crl_sign and not ca_usage.digital_signature
    assert ca.not_valid_after_utc - ca.not_valid_before_utc == timedelta(days=730)

    san = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == BROKER_NAMES
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert list(broker.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ]
    assert broker.subject.rfc4514_string() == "CN=broker"

    # The subject is the CN alone, so the mapping rule ^CN=([^,]+).*$ gives exactly User:region-24.
    assert client.subject.rfc4514_string() == "CN=region-24"
    assert list(client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    for leaf in (broker, client):
        assert leaf.issuer == ca.subject
        assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == timedelta(days=365)
        key = leaf.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"


def test_keys_and_keystores_are_readable_by_their_owner_only(pki: DevPki) -> None:
    assert mode(pki.folder) == 0o700
    assert mode(pki.ca_key) == 0o600 and mode(pki.ca_cert) == 0o644
    for issued in (pki.broker, *pki.clients.values()):
        assert (mode(issued.cert), mode(issued.key), mode(issued.keystore)) == (0o644, 0o600, 0o600)
    names = {path.name for path in pki.folder.iterdir()}
    assert names == {"ca.pem", "ca-key.pem"} | {
        f"{name}{suffix}"
        for name in ("broker", "region-24", "router")
        for suffix in (".pem", "-key.pem", "-keystore.pem")
    }


def test_the_keystore_holds_the_unencrypted_key_then_the_leaf_then_the_ca(pki: DevPki) -> None:
    for issued in (pki.broker, pki.clients["region-24"]):
        keystore = issued.keystore.read_bytes()
        labels = [line for line in keystore.decode().splitlines() if line.startswith("-----BEGIN")]
        assert labels == ["-----BEGIN PRIVATE KEY-----", "-----BEGIN CERTIFICATE-----", "-----BEGIN CERTIFICATE-----"]
        assert keystore == issued.key.read_bytes() + issued.cert.read_bytes() + pki.ca_cert.read_bytes()
        key = serialization.load_pem_private_key(keystore, password=None)
        leaf, ca = x509.load_pem_x509_certificates(keystore)
        assert key.public_key() == leaf.public_key() and leaf == load(issued.cert) and ca == load(pki.ca_cert)


def test_a_second_run_keeps_the_ca_and_every_certificate(pki: DevPki) -> None:
    before = contents(pki)
    again = ensure_dev_pki(pki.folder, ["region-24", "router"])
    assert contents(again) == before
    assert not again.ca_new and not again.broker.new and not any(c.new for c in again.clients.values())


def test_a_new_principal_gets_a_certificate_and_the_others_are_kept(pki: DevPki) -> None:
    before = contents(pki)
    more = ensure_dev_pki(pki.folder, ["region-24", "router", "region-53"])
    assert more.clients["region-53"].new and not more.clients["region-24"].new
    after = contents(more)
    assert {name: after[name] for name in before} == before


def test_renewing_replaces_the_ca_and_every_certificate(pki: DevPki) -> None:
    before = contents(pki)
    old_ca = load(pki.ca_cert)
    renewed = ensure_dev_pki(pki.folder, ["region-24", "router"], renew=True)
    after = contents(renewed)
    assert renewed.ca_new and renewed.broker.new and all(c.new for c in renewed.clients.values())
    assert all(after[name] != before[name] for name in before)
    assert load(renewed.ca_cert).subject != old_ca.subject
    with pytest.raises(ValueError, match="Issuer"):
        load(renewed.broker.cert).verify_directly_issued_by(old_ca)


def test_a_certificate_within_30_days_of_its_end_is_issued_again_under_the_same_ca(pki: DevPki) -> None:
    ca_before, broker_before = pki.ca_cert.read_bytes(), pki.broker.cert.read_bytes()
    later = datetime.now(UTC) + timedelta(days=340)
    again = ensure_dev_pki(pki.folder, ["region-24", "router"], now=later)
    assert not again.ca_new and again.broker.new and all(c.new for c in again.clients.values())
    assert pki.ca_cert.read_bytes() == ca_before and pki.broker.cert.read_bytes() != broker_before
    # Near the CA's own end, a new CA and new certificates for all.
    at_end = ensure_dev_pki(pki.folder, ["region-24", "router"], now=datetime.now(UTC) + timedelta(days=710))
    assert at_end.ca_new and at_end.broker.new and pki.ca_cert.read_bytes() != ca_before


def test_a_damaged_or_different_certificate_is_issued_again(pki: DevPki) -> None:
    pki.clients["router"].key.write_bytes(b"not a key")
    other_names = ensure_dev_pki(pki.folder, ["region-24", "router"], dns_names=["localhost", "kafka-9"])
    assert other_names.clients["router"].new and not other_names.clients["region-24"].new
    assert other_names.broker.new
    san = load(other_names.broker.cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "kafka-9"]


def test_half_a_ca_is_refused_until_renewed(pki: DevPki) -> None:
    pki.ca_key.unlink()
    with pytest.raises(PkiError, match=r"ca-key\.pem manque"):
        ensure_dev_pki(pki.folder, ["region-24"])
    assert ensure_dev_pki(pki.folder, ["region-24"], renew=True).ca_new


@pytest.mark.parametrize("name", ["ca", "region-24-key", "x-keystore", "a,b", "CN=x", "", "../evil", "é"])
def test_a_name_that_would_clash_or_not_map_to_one_principal_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(PkiError, match="nom de certificat invalide"):
        ensure_dev_pki(tmp_path, [name])
    with pytest.raises(PkiError, match="broker"):
        ensure_dev_pki(tmp_path, ["broker"])


def test_loading_refuses_a_key_that_is_not_the_cas(pki: DevPki, tmp_path: Path) -> None:
    other = ensure_dev_pki(tmp_path / "autre", [])
    pki.ca_key.write_bytes(other.ca_key.read_bytes())
    with pytest.raises(PkiError, match="n'est pas la clé"):
        LocalCA.load(pki.folder)


# A real handshake through OpenSSL (Python's ssl), as librdkafka and aiokafka do it against Kafka's listener.


@contextmanager
def tls_server(context: ssl.SSLContext) -> Iterator[tuple[int, queue.Queue[str | Exception]]]:
    """A one-connection TLS server on 127.0.0.1 that answers the CN of the client certificate it verified."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    seen: queue.Queue[str | Exception] = queue.Queue()

    def serve() -> None:
        try:
            raw, _ = listener.accept()
            raw.settimeout(10)
            with context.wrap_socket(raw, server_side=True) as conn:
                der = conn.getpeercert(binary_form=True)
                assert der is not None
                [cn_attribute] = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
                cn = str(cn_attribute.value)
                seen.put(cn)
                conn.sendall(cn.encode())
        except OSError as exc:  # ssl.SSLError included: a refused handshake is the result under test
            seen.put(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], seen
    finally:
        listener.close()
        thread.join(10)


def broker_context(pki: DevPki) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=str(pki.ca_cert))
    # The keystore alone: the key and the chain in one PEM file, as Kafka reads it.
    context.load_cert_chain(str(pki.broker.keystore))
    return context


def client_context(ca: Path, issued: IssuedCertificate | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    if issued is not None:
        context.load_cert_chain(str(issued.cert), str(issued.key))
    return context


def talk(port: int, context: ssl.SSLContext, server_name: str) -> str:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        return tls.recv(64).decode()


@pytest.mark.parametrize("server_name", ["localhost", "127.0.0.1"])
def test_mutual_tls_handshake_tells_the_broker_the_clients_principal(pki: DevPki, server_name: str) -> None:
    with tls_server(broker_context(pki)) as (port, seen):
        answer = talk(port, client_context(pki.ca_cert, pki.clients["region-24"]), server_name)
        assert seen.get(timeout=10) == "region-24"
    assert answer == "region-24"


@pytest.mark.parametrize("stranger", ["another_ca", "no_certificate"])
def test_a_client_without_a_certificate_of_this_ca_is_refused(pki: DevPki, tmp_path: Path, stranger: str) -> None:
    other = ensure_dev_pki(tmp_path / "autre", ["region-24"])
    issued = other.clients["region-24"] if stranger == "another_ca" else None
    with tls_server(broker_context(pki)) as (port, seen):
        # TLS 1.3 ends the client's side of the handshake first: the refusal arrives on its first read.
        with pytest.raises((ssl.SSLError, ConnectionError)):
            talk(port, client_context(pki.ca_cert, issued), "localhost")
        refusal = seen.get(timeout=10)
    assert isinstance(refusal, ssl.SSLError)
    expected = "certificate verify failed" if issued is not None else "peer did not return a certificate"
    assert expected in str(refusal)


def test_a_client_does_not_trust_a_broker_of_another_ca(pki: DevPki, tmp_path: Path) -> None:
    other = ensure_dev_pki(tmp_path / "autre", ["region-24"])
    with tls_server(broker_context(pki)) as (port, seen):
        with pytest.raises(ssl.SSLCertVerificationError):
            talk(port, client_context(other.ca_cert, other.clients["region-24"]), "localhost")
        assert isinstance(seen.get(timeout=10), ssl.SSLError)


# The command.


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, ["dev", "certs", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_dev_certs_issues_one_certificate_per_partner_and_service_and_shows_no_key(tmp_path: Path) -> None:
    folder = tmp_path / "tls"
    output = invoke("--dossier", str(folder))
    expected = ["broker", *principals(["imilo", "region-24"])]
    for name in expected:
        assert (folder / f"{name}-keystore.pem").exists()
        assert f"CN={name} " in output
    assert "DNS:kafka-3" in output and "IP:127.0.0.1" in output and "nouveau" in output
    assert "PRIVATE KEY" not in output and "BEGIN" not in output
    ca = (folder / "ca.pem").read_bytes()

    again = invoke("--dossier", str(folder), "--principal", "region-24")
    assert "gardé" in again and "nouveau" not in again and "CN=imilo" not in again
    assert (folder / "ca.pem").read_bytes() == ca

    renewed = invoke("--dossier", str(folder), "--principal", "region-24", "--renouveler")
    assert "gardé" not in renewed
    assert (folder / "ca.pem").read_bytes() != ca


def test_dev_certs_refuses_a_bad_principal_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["dev", "certs", "--dossier", str(tmp_path), "--principal", "a,b"])
    assert result.exit_code != 0
    assert isinstance(result.exception, PkiError) and "« a,b »" in str(result.exception)
