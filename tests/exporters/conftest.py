"""Fixtures of the exporter tests."""

try:
    from tests.exporters.otlp_receiver import receiver
except ImportError:  # no opentelemetry-proto: the OTLP tests skip themselves
    pass
else:
    __all__ = ["receiver"]
