"""The exporter's attribute names are the OpenTelemetry semantic conventions' own."""

from __future__ import annotations

import pytest

from aiobs.exporters import genai_attributes as names

semconv = pytest.importorskip("opentelemetry.semconv")

from opentelemetry.semconv._incubating.attributes import (  # noqa: E402 - after the importorskip
    gen_ai_attributes,
    session_attributes,
)
from opentelemetry.semconv.attributes import (  # noqa: E402
    code_attributes,
    error_attributes,
    exception_attributes,
    http_attributes,
    service_attributes,
)

SOURCES = (
    gen_ai_attributes,
    session_attributes,
    code_attributes,
    error_attributes,
    exception_attributes,
    http_attributes,
    service_attributes,
)


CONVENTION_PREFIXES = ("GEN_AI_", "CODE_", "ERROR_", "EXCEPTION_", "HTTP_", "SERVICE_", "SESSION_")


class TestNames:
    """Every convention name in the module is spelled as the semconv package spells it."""

    @pytest.mark.parametrize(
        "constant",
        sorted(
            name
            for name in vars(names)
            if name.startswith(CONVENTION_PREFIXES)
            and name not in {"ERROR_TYPE_OTHER", "EXCEPTION_EVENT"}
        ),
    )
    def test_matches_semconv(self, constant: str) -> None:
        found = [getattr(module, constant) for module in SOURCES if hasattr(module, constant)]
        assert found, f"{constant} is not in opentelemetry-semantic-conventions"
        assert set(found) == {getattr(names, constant)}

    def test_values(self) -> None:
        operations = {member.value for member in gen_ai_attributes.GenAiOperationNameValues}
        ours = {names.OPERATION_CHAT, names.OPERATION_GENERATE_CONTENT, names.OPERATION_EMBEDDINGS}
        assert ours <= operations
        providers = {member.value for member in gen_ai_attributes.GenAiProviderNameValues}
        ours = {names.PROVIDER_OPENAI, names.PROVIDER_ANTHROPIC, names.PROVIDER_GCP_GEMINI}
        assert ours <= providers
        assert error_attributes.ErrorTypeValues.OTHER.value == names.ERROR_TYPE_OTHER
