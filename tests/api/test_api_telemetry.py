"""FastAPI's own OpenTelemetry is turned off only when nothing is configured as the app is made
(api/serve/telemetry.py); an operator's OpenTelemetry set-up keeps it as FastAPI has it."""

from __future__ import annotations

import pytest

from api.serve import telemetry

pytest.importorskip("fastapi.telemetry", reason="a FastAPI without native telemetry is given nothing")


def test_off_when_nothing_is_configured(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("FASTAPI_OTEL_AUTO_CONFIGURE", raising=False)
    assert telemetry.fastapi_telemetry() == {"telemetry": telemetry.OFF}


def test_left_alone_when_a_provider_is_set_or_auto_configuration_is_asked_for(monkeypatch: pytest.MonkeyPatch):
    from opentelemetry import trace

    monkeypatch.delenv("FASTAPI_OTEL_AUTO_CONFIGURE", raising=False)
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: object())  # what an SDK's provider looks like to it
    assert telemetry.fastapi_telemetry() == {}
    monkeypatch.undo()
    monkeypatch.setenv("FASTAPI_OTEL_AUTO_CONFIGURE", "true")
    assert telemetry.fastapi_telemetry() == {}
