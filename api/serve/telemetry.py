"""FastAPI's own OpenTelemetry (newer FastAPI releases): off when nothing is configured as the app is made.

Such a FastAPI asks OpenTelemetry on every request whether a tracer, meter or logger provider has been set (three
environment lookups and three type checks: about 10 µs a request, 1.8% of a worker's CPU under load;
docs/benchmarks.md). carerules configures no OpenTelemetry itself; an operator who does so configures it before the
app is made (``opentelemetry-instrument carerules serve``, or ``FASTAPI_OTEL_AUTO_CONFIGURE=true``), and then
FastAPI's telemetry is left as FastAPI sets it. A FastAPI without native telemetry (0.115, as pyproject.toml
allows) is given nothing.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

from fastapi import FastAPI

OFF = {"tracing": False, "metrics": False, "logs": False}


def fastapi_telemetry() -> dict[str, Any]:
    """The keyword arguments for ``FastAPI(...)``: ``telemetry`` off, or none (FastAPI's own default)."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    if os.environ.get("FASTAPI_OTEL_AUTO_CONFIGURE", "").lower() == "true":
        return {}
    return {} if configured() else {"telemetry": dict(OFF)}


def configured() -> bool:
    """Whether an OpenTelemetry provider is set (FastAPI's own test); True when that cannot be told."""
    try:
        from fastapi.telemetry._api import _unconfigured
        from opentelemetry import _logs, metrics, trace
    except ImportError:
        return True
    providers = (trace.get_tracer_provider(), metrics.get_meter_provider(), _logs.get_logger_provider())
    return not all(_unconfigured(provider) for provider in providers)
