"""The operator console as deployed: its settings from the environment, its Kafka identity its own (``console``)."""

from __future__ import annotations

from fastapi import FastAPI

from passerelle.broker.access import KafkaAccess
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.contracts.codec import AvroCodec
from passerelle.runtime.registry import RegistryReader
from passerelle.settings import Settings
from passerelle.stack.native_check import NativeReport, check_native_message
from services.console.app import OpenDataArchive, build, create_app
from services.console.settings import ConsoleSettings
from services.indicators.opendata import Format, archive_from_broker


def app_from_environment() -> FastAPI:
    """For ``uvicorn --factory passerelle.stack.console:app_from_environment`` in the production stack."""
    from passerelle.logging import configure

    settings = Settings()
    configure(settings.log_format, settings.log_level)

    def check(partner: str, event: str, payload: bytes) -> NativeReport:
        """The validation form's answer: the adapters' offline check, as ``contracts validate --partner`` runs it."""
        return check_native_message(settings, partner, event, payload)

    return create_app(build(settings, ConsoleSettings(), check, open_data_archive(settings)))


def open_data_archive(settings: Settings) -> OpenDataArchive:
    """The open-data download: the canonical topics read as ``passerelle indicateurs export`` reads them."""
    access = KafkaAccess.of(settings)
    url = settings.registry_url
    # Records framed by the registry's ids are read with the writer schema it serves.
    codec = AvroCodec(Catalogue.load(settings.schemas_dir), RegistryReader(url).fetch if url else None)

    async def archive(month: str, chosen: str) -> tuple[str, bytes]:
        return await archive_from_broker(access, codec, month, Format(chosen))

    return archive
