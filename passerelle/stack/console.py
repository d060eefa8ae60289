"""The operator console as deployed: its settings from the environment, its Kafka identity its own (``console``)."""

from __future__ import annotations

from fastapi import FastAPI

from passerelle.settings import Settings
from passerelle.stack.native_check import NativeReport, check_native_message
from services.console.app import build, create_app
from services.console.settings import ConsoleSettings


def app_from_environment() -> FastAPI:
    """For ``uvicorn --factory passerelle.stack.console:app_from_environment`` in the production stack."""
    from passerelle.logging import configure

    settings = Settings()
    configure(settings.log_format, settings.log_level)

    def check(partner: str, event: str, payload: bytes) -> NativeReport:
        """The validation form's answer: the adapters' offline check, as ``contracts validate --partner`` runs it."""
        return check_native_message(settings, partner, event, payload)

    return create_app(build(settings, ConsoleSettings(), check))
