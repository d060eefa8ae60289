"""The local certificate authority behind Kafka's TLS listeners: the brokers' and the principals' certificates.

Apache Kafka's SASL_SSL listener (SCRAM-SHA-512 over TLS) needs a server certificate its clients trust; its SSL
listener (mutual TLS) also needs one client certificate per principal, whose subject is ``CN=<principal>`` and
nothing else, so ``ssl.principal.mapping.rules=RULE:^CN=([^,]+).*$/$1/,DEFAULT`` makes it ``User:<principal>``.
This module makes them for the tests and ``passerelle dev``; production may use the same layout from its own CA.

Keys are ECDSA P-256, signed with SHA-256: Kafka's Java TLS, librdkafka's OpenSSL and Python's ``ssl`` all take
them. The CA is valid 2 years, every other certificate 1 year.

Layout of a folder (created with mode 0700 when missing):

``ca.pem``
    The CA certificate: every broker's and client's trust store (``ssl.truststore.type=PEM``,
    ``ssl.truststore.location``; librdkafka's ``ssl.ca.location``).
``ca-key.pem``
    The CA's private key, unencrypted PKCS#8, mode 0600. It never leaves the folder.
``<name>.pem``
    The certificate issued to ``<name>`` (``broker`` for the brokers, else a principal), the leaf only.
``<name>-key.pem``
    Its private key, unencrypted PKCS#8 (``BEGIN PRIVATE KEY``), mode 0600 (librdkafka's ``ssl.key.location``,
    Python's ``load_cert_chain``).
``<name>-keystore.pem``
    The private key then the chain, leaf then CA, mode 0600: the keystore Kafka reads with
    ``ssl.keystore.type=PEM`` and ``ssl.keystore.location``, with neither ``ssl.keystore.password`` (refused for
    PEM) nor ``ssl.key.password`` (an unencrypted PKCS#8 key is accepted since Kafka 3.2, KAFKA-12703).

Running again keeps the CA and every certificate that is still valid for more than 30 days, signed by that CA
and as asked; anything else is issued again. Renewing makes a new CA, hence new certificates for everyone.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from passerelle.broker.acl import BROKER

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
CA_NAME = "Passerelle AC locale"
DEFAULT_DNS_NAMES = ("localhost", "kafka-1", "kafka-2", "kafka-3")
DEFAULT_IP_ADDRESSES = ("127.0.0.1",)

CA_VALIDITY = timedelta(days=730)
LEAF_VALIDITY = timedelta(days=365)
RENEW_BEFORE = timedelta(days=30)
# Certificates start a little in the past so a peer whose clock is slightly behind accepts them at once.
BACKDATE = timedelta(minutes=5)

# A file name on every system, and a CN the principal mapping rule takes whole (it stops at a comma).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_CURVE = ec.SECP256R1()
_Ext = TypeVar("_Ext", bound=x509.ExtensionType)


class PkiError(Exception):
    """A folder that does not hold a usable CA, or a name that cannot be a certificate's: said in French."""


@dataclass(frozen=True)
class IssuedCertificate:
    """The three files of one certificate (module docstring); ``new`` is false when a valid one was kept."""

    name: str
    cert: Path
    key: Path
    keystore: Path
    new: bool = True

    @property
    def files(self) -> tuple[Path, Path, Path]:
        return self.cert, self.key, self.keystore


@dataclass(frozen=True)
class DevPki:
    """Everything a local secured stack needs: the CA, the brokers' certificate and one per principal."""

    folder: Path
    ca_cert: Path
    ca_key: Path
    ca_new: bool
    broker: IssuedCertificate
    clients: Mapping[str, IssuedCertificate]


@dataclass(frozen=True)
class CertificateSummary:
    """What a person checks on a certificate; never any key material."""

    subject: str
    names: tuple[str, ...]  # the subject alternative names, ``DNS:…`` and ``IP:…``
    not_after: datetime


class LocalCA:
    """A certificate authority kept in a folder: it signs the brokers' and the principals' certificates."""

    def __init__(self, folder: Path, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        self.folder = folder
        self.certificate = certificate
        self._key = key

    @property
    def cert_path(self) -> Path:
        return self.folder / CA_FILE

    @property
    def key_path(self) -> Path:
        return self.folder / CA_KEY_FILE

    @classmethod
    def create(cls, folder: Path, *, now: datetime | None = None) -> LocalCA:
        """A new CA in ``folder``, replacing the one there: every certificate it signed stops being trusted.

        Its name ends with the start of its key identifier, so a TLS error naming an unknown issuer says which CA.
        """
        start = _now(now) - BACKDATE
        key = ec.generate_private_key(_CURVE)
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        name = f"{CA_NAME} {ski.digest[:4].hex()}"
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + CA_VALIDITY)
            # Path length 0: this CA signs leaves only, never another CA.
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(ski, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
            .sign(key, hashes.SHA256())
        )
        _make_folder(folder)
        _write(folder / CA_KEY_FILE, _key_pem(key), 0o600)
        _write(folder / CA_FILE, _cert_pem(certificate), 0o644)
        return cls(folder, certificate, key)

    @classmethod
    def load(cls, folder: Path) -> LocalCA:
        """The CA kept in ``folder``; ``PkiError`` when it is missing, unreadable or its two files disagree."""
        cert_path, key_path = folder / CA_FILE, folder / CA_KEY_FILE
        try:
            certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except OSError as exc:
            raise PkiError(f"autorité de certification illisible dans {folder} : {exc.strerror or exc}") from None
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise PkiError(f"autorité de certification invalide dans {folder} : {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PkiError(f"{key_path} n'est pas une clé ECDSA : créez une nouvelle autorité (renouveler)")
        if _public_der(key.public_key()) != _public_der(certificate.public_key()):
            raise PkiError(f"{key_path} n'est pas la clé de {cert_path} : créez une nouvelle autorité (renouveler)")
        try:
            is_ca = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            raise PkiError(f"{cert_path} n'est pas un certificat d'autorité (basicConstraints CA:true)")
        return cls(folder, certificate, key)

    @classmethod
    def open(cls, folder: Path, *, renew: bool = False, now: datetime | None = None) -> tuple[LocalCA, bool]:
        """The CA of ``folder`` and whether it is new: the same as last time unless ``renew``, none was there,
        or it expires within 30 days. Half a CA (one file of two) is refused rather than silently replaced."""
        cert_path, key_path = folder / CA_FILE, folder / CA_KEY_FILE
        if renew or not (cert_path.exists() or key_path.exists()):
            return cls.create(folder, now=now), True
        if not (cert_path.exists() and key_path.exists()):
            present, missing = (cert_path, key_path) if cert_path.exists() else (key_path, cert_path)
            raise PkiError(f"{present} existe mais {missing} manque : renouvelez pour créer une nouvelle autorité")
        ca = cls.load(folder)
        if ca.certificate.not_valid_after_utc - _now(now) <= RENEW_BEFORE:
            return cls.create(folder, now=now), True
        return ca, False

    def issue_server(
        self,
        name: str = BROKER,
        *,
        dns_names: Sequence[str] = DEFAULT_DNS_NAMES,
        ip_addresses: Sequence[str] = DEFAULT_IP_ADDRESSES,
        now: datetime | None = None,
    ) -> IssuedCertificate:
        """A new certificate for the brokers, ``CN=<name>``, valid for these names and addresses.

        It serves both ways (serverAuth and clientAuth): a broker also connects to the other brokers and to the
        controllers with it.
        """
        names = _alt_names(dns_names, ip_addresses)
        return self._issue(name, names, (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH), now)

    def issue_client(self, principal: str, *, now: datetime | None = None) -> IssuedCertificate:
        """A new client certificate whose subject is ``CN=<principal>`` alone: Kafka's ``User:<principal>``."""
        return self._issue(principal, [], (ExtendedKeyUsageOID.CLIENT_AUTH,), now)

    def ensure_server(
        self,
        name: str = BROKER,
        *,
        dns_names: Sequence[str] = DEFAULT_DNS_NAMES,
        ip_addresses: Sequence[str] = DEFAULT_IP_ADDRESSES,
        renew: bool = False,
        now: datetime | None = None,
    ) -> IssuedCertificate:
        """The brokers' certificate in the folder if it is still good (module docstring), else a new one."""
        names = _alt_names(dns_names, ip_addresses)
        usages = (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH)
        kept = None if renew else self._current(name, names, usages, now)
        return kept or self.issue_server(name, dns_names=dns_names, ip_addresses=ip_addresses, now=now)

    def ensure_client(self, principal: str, *, renew: bool = False, now: datetime | None = None) -> IssuedCertificate:
        """The principal's certificate in the folder if it is still good (module docstring), else a new one."""
        kept = None if renew else self._current(principal, [], (ExtendedKeyUsageOID.CLIENT_AUTH,), now)
        return kept or self.issue_client(principal, now=now)

    def files_of(self, name: str) -> IssuedCertificate:
        """Where the certificate of ``name`` is, or would be, in this CA's folder."""
        _check_name(name)
        return IssuedCertificate(
            name,
            self.folder / f"{name}.pem",
            self.folder / f"{name}-key.pem",
            self.folder / f"{name}-keystore.pem",
            new=False,
        )

    def _issue(
        self,
        name: str,
        alt_names: list[x509.GeneralName],
        usages: tuple[x509.ObjectIdentifier, ...],
        now: datetime | None,
    ) -> IssuedCertificate:
        files = self.files_of(name)
        start = _now(now) - BACKDATE
        key = ec.generate_private_key(_CURVE)
        ca_ski = _extension(self.certificate, x509.SubjectKeyIdentifier)
        aki = (
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski)
            if ca_ski is not None
            else x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key())
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            # Never beyond the CA: a chain is only as valid as its shortest link.
            .not_valid_after(min(start + LEAF_VALIDITY, self.certificate.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(aki, critical=False)
        )
        if alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        certificate = builder.sign(self._key, hashes.SHA256())
        key_pem, cert_pem = _key_pem(key), _cert_pem(certificate)
        _make_folder(self.folder)
        _write(files.key, key_pem, 0o600)
        _write(files.cert, cert_pem, 0o644)
        _write(files.keystore, self._keystore(key_pem, cert_pem), 0o600)
        return IssuedCertificate(name, files.cert, files.key, files.keystore, new=True)

    def _keystore(self, key_pem: bytes, cert_pem: bytes) -> bytes:
        return key_pem + cert_pem + _cert_pem(self.certificate)

    def _current(
        self,
        name: str,
        alt_names: list[x509.GeneralName],
        usages: tuple[x509.ObjectIdentifier, ...],
        now: datetime | None,
    ) -> IssuedCertificate | None:
        """The files of ``name`` when they hold a certificate of this CA, as asked, valid 30 more days and
        matching its key and keystore; ``None`` when anything is missing, different or damaged."""
        files = self.files_of(name)
        try:
            cert_pem, key_pem, keystore = (path.read_bytes() for path in files.files)
            certificate = x509.load_pem_x509_certificate(cert_pem)
            key = serialization.load_pem_private_key(key_pem, password=None)
            certificate.verify_directly_issued_by(self.certificate)
        except (OSError, ValueError, TypeError, UnsupportedAlgorithm, InvalidSignature):
            return None
        moment = _now(now)
        good = (
            _public_der(key.public_key()) == _public_der(certificate.public_key())
            and keystore == self._keystore(key_pem, cert_pem)
            and certificate.not_valid_before_utc <= moment
            and certificate.not_valid_after_utc - moment > RENEW_BEFORE
            and certificate.subject == x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
            and _extension(certificate, x509.ExtendedKeyUsage) == x509.ExtendedKeyUsage(list(usages))
            and _sorted_names(_extension(certificate, x509.SubjectAlternativeName)) == _sorted_names(alt_names)
        )
        return files if good else None


def ensure_dev_pki(
    folder: Path,
    principals: Iterable[str],
    *,
    renew: bool = False,
    dns_names: Sequence[str] = DEFAULT_DNS_NAMES,
    ip_addresses: Sequence[str] = DEFAULT_IP_ADDRESSES,
    now: datetime | None = None,
) -> DevPki:
    """The CA, the brokers' certificate (``broker``) and a client certificate per principal, in one call.

    What is already in ``folder`` and still good for more than 30 days is kept (a new CA makes everything new);
    ``renew`` replaces it all.
    """
    wanted = list(dict.fromkeys(principals))  # once each, in the order given
    if BROKER in wanted:
        raise PkiError(f"« {BROKER} » est le nom du certificat des brokers, pas celui d'un principal")
    for principal in wanted:
        _check_name(principal)
    ca, ca_new = LocalCA.open(folder, renew=renew, now=now)
    broker = ca.ensure_server(BROKER, dns_names=dns_names, ip_addresses=ip_addresses, renew=renew, now=now)
    clients = {principal: ca.ensure_client(principal, renew=renew, now=now) for principal in wanted}
    return DevPki(folder, ca.cert_path, ca.key_path, ca_new, broker, clients)


def summary(cert_file: Path) -> CertificateSummary:
    """The subject, alternative names and expiry of a PEM certificate."""
    certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
    san = _extension(certificate, x509.SubjectAlternativeName)
    names = tuple(
        f"DNS:{n.value}" if isinstance(n, x509.DNSName) else f"IP:{n.value}"
        for n in (san or [])
        if isinstance(n, x509.DNSName | x509.IPAddress)
    )
    return CertificateSummary(certificate.subject.rfc4514_string(), names, certificate.not_valid_after_utc)


def _check_name(name: str) -> None:
    # ``ca`` and the ``-key``/``-keystore`` endings would make two names share a file.
    if not _NAME.fullmatch(name) or name == "ca" or name.endswith(("-key", "-keystore")):
        raise PkiError(
            f"nom de certificat invalide : « {name} » (lettres, chiffres, « . », « _ », « - », 64 caractères au "
            "plus, ni « ca » ni un nom finissant par « -key » ou « -keystore »)"
        )


def _alt_names(dns_names: Sequence[str], ip_addresses: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dict.fromkeys(dns_names)]
    for address in dict.fromkeys(ip_addresses):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            raise PkiError(f"adresse IP invalide pour un certificat : « {address} »") from None
    if not names:
        raise PkiError("un certificat de broker demande au moins un nom DNS ou une adresse IP")
    return names


def _sorted_names(names: Iterable[x509.GeneralName] | None) -> list[str]:
    return sorted(f"{type(n).__name__}:{n.value}" for n in names or [])


def _extension(certificate: x509.Certificate, kind: type[_Ext]) -> _Ext | None:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    # ECDSA keys sign (the handshake, or certificates and CRLs for the CA); they never encipher a key.
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    # PKCS#8 (``BEGIN PRIVATE KEY``): the one PEM key format Kafka's PEM keystore parses.
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _public_der(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _make_folder(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Written beside, then renamed over: no reader sees half a file, and a key never has a wider mode."""
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)  # the exact mode, whatever the umask
            out.write(data)
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
