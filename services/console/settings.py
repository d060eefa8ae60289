"""The console's own configuration, from ``PASSERELLE_CONSOLE_*`` variables.

Built once at the console's edge (the local stack, ``build``) and passed to ``create_app``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from passerelle.runtime.operator import OperatorCredential, password_in
from services.console.access import DEFAULT_SESSION_S, Accounts, ConsoleAccess, OidcVerifier, Role, SessionSigner
from services.console.oidc import OidcLogin

ENV_PREFIX = "PASSERELLE_CONSOLE_"


def _names(text: str) -> frozenset[str]:
    return frozenset(n.strip() for n in text.split(",") if n.strip())


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    metrics_urls: str = Field(
        default="",
        description="The /metrics URLs of the running services, comma-separated: the console's only source of counts.",
    )
    accounts_file: Path | None = Field(
        default=None,
        description="Local accounts, one « utilisateur:rôle:scrypt$… » per line, rôle operateur or lecture "
        "(python -m services.console.access UTILISATEUR ROLE < mot-de-passe).",
    )
    operator_user: str | None = Field(
        default=None, description="One more operator account, its password in OPERATOR_PASSWORD_FILE."
    )
    operator_password_file: Path | None = Field(
        default=None, description="File holding that operator's password (a container secret)."
    )
    session_secret_file: Path | None = Field(
        default=None,
        description="Key signing the session cookies; unset: a random key per start (every session ends with it).",
    )
    session_hours: float = Field(default=DEFAULT_SESSION_S / 3600, gt=0, description="A session's lifetime.")
    secure_cookie: bool = Field(default=False, description="Cookie sent over HTTPS only (behind a TLS proxy).")
    oidc_issuer: str | None = Field(default=None, description="OIDC issuer whose tokens open a session.")
    oidc_audience: str = Field(default="passerelle-console", description="The audience those tokens must name.")
    oidc_jwks_url: str | None = Field(default=None, description="The issuer's JWKS (https:// or file://).")
    oidc_role_claim: str = Field(default="roles", description="Claim naming operateur or lecture.")
    oidc_operators: str = Field(default="", description="Subjects given the operateur role, comma-separated.")
    oidc_readers: str = Field(default="", description="Subjects given the lecture role, comma-separated.")
    oidc_client_id: str | None = Field(
        default=None,
        description="The console's client id at the issuer: set, /connexion offers « Se connecter avec … » "
        "(authorization code with PKCE, endpoints from <issuer>/.well-known/openid-configuration); the ID "
        "token's audience.",
    )
    oidc_client_secret_file: Path | None = Field(
        default=None, description="The client secret of a confidential client; unset: a public client, PKCE alone."
    )
    oidc_redirect_url: str | None = Field(
        default=None,
        description="The callback as registered at the issuer (https://…/connexion/oidc); unset: built from the "
        "request's address.",
    )
    oidc_label: str | None = Field(
        default=None, description="The issuer's name on the login button; unset: the issuer's host name."
    )

    @model_validator(mode="after")
    def _complete(self) -> ConsoleSettings:
        if (self.operator_user is None) != (self.operator_password_file is None):
            missing = "OPERATOR_USER" if self.operator_user is None else "OPERATOR_PASSWORD_FILE"
            raise ValueError(f"identifiant d'opérateur de la console incomplet : {ENV_PREFIX}{missing} manque")
        if (self.oidc_issuer is None) != (self.oidc_jwks_url is None):
            missing = "OIDC_ISSUER" if self.oidc_issuer is None else "OIDC_JWKS_URL"
            raise ValueError(f"OIDC de la console incomplet : {ENV_PREFIX}{missing} manque")
        if self.oidc_client_id is not None and self.oidc_issuer is None:
            raise ValueError(f"OIDC de la console incomplet : {ENV_PREFIX}OIDC_ISSUER manque")
        self.operator()  # an empty file or name refused at start rather than at login
        return self

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(url.strip() for url in self.metrics_urls.split(",") if url.strip())

    def operator(self) -> OperatorCredential | None:
        """The configured operator's credential, or None."""
        if self.operator_user is None or self.operator_password_file is None:
            return None
        return OperatorCredential(self.operator_user, password_in(self.operator_password_file))

    def access(self, extra: Accounts | None = None) -> ConsoleAccess:
        """Who may log in: the accounts file, the configured operator, ``extra`` (a local stack's), OIDC."""
        by_user = dict(extra.by_user) if extra else {}
        if self.accounts_file is not None:
            text = self.accounts_file.read_text(encoding="utf-8")
            by_user |= Accounts.parse(text, str(self.accounts_file)).by_user
        operator = self.operator()
        if operator is not None:
            by_user |= Accounts.from_credentials({Role.OPERATOR: [operator]}).by_user
        oidc = None
        if self.oidc_issuer and self.oidc_jwks_url:
            oidc = OidcVerifier(
                self.oidc_issuer,
                self.oidc_audience,
                self.oidc_jwks_url,
                self.oidc_role_claim,
                _names(self.oidc_operators),
                _names(self.oidc_readers),
            )
        key = self.session_secret_file.read_bytes().strip() if self.session_secret_file else None
        ttl = int(self.session_hours * 3600)
        signer = SessionSigner(key, ttl) if key else SessionSigner(ttl_s=ttl)
        login = self.oidc_login(oidc)
        return ConsoleAccess(Accounts(by_user), signer, oidc, login, secure_cookie=self.secure_cookie)

    def oidc_login(self, tokens: OidcVerifier | None) -> OidcLogin | None:
        """The redirect flow at the configured issuer, its ID tokens checked by ``tokens``; None without a client."""
        if self.oidc_client_id is None or self.oidc_issuer is None or tokens is None:
            return None
        secret = (
            self.oidc_client_secret_file.read_text(encoding="utf-8").strip() if self.oidc_client_secret_file else None
        )
        label = self.oidc_label or urlsplit(self.oidc_issuer).hostname or self.oidc_issuer
        return OidcLogin(self.oidc_issuer, self.oidc_client_id, tokens, label, secret or None, self.oidc_redirect_url)
