"""Which adapter checks a partner's native message offline: the one serving its family."""

from __future__ import annotations

from pydantic import SecretStr

from passerelle.core import events
from passerelle.core.partners import Profiles
from passerelle.runtime.context import ServiceContext
from passerelle.settings import Settings
from services.adapter.check import NativeReport, check_native
from services.milo_adapter import app as milo_adapter
from services.region_adapter import app as region_adapter

__all__ = ["NativeReport", "check_native_message"]

_CHECK_SECRET = "verification-hors-ligne"  # noqa: S105 - pseudonyms computed here are never published


def check_native_message(settings: Settings, partner: str, event: str, payload: bytes) -> NativeReport:
    secret = SecretStr(_CHECK_SECRET)
    offline = settings.model_copy(update={"pseudonym_secret": secret, "pseudonym_secret_file": None})
    profiles = Profiles.load(settings.contracts_dir / "partners", None)
    profile = profiles.get(partner)
    if profile is None:
        raise ValueError(f"partenaire inconnu : {partner} (connus : {', '.join(profiles.ids)})")
    adapter = milo_adapter if profile.family == events.MISSION_LOCALE else region_adapter
    ctx = ServiceContext.build(adapter.SERVICE, offline)
    return check_native(ctx, adapter.DIALECTS, partner, event, payload)
