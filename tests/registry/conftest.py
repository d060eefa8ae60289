"""The registry's operator, shared by the registry's tests."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from services.registry.auth import OperatorCredential


@pytest.fixture
def operator() -> OperatorCredential:
    return OperatorCredential("operateur-test", SecretStr("mot-de-passe-de-test-9f2c"))
