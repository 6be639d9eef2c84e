"""The API's settings, read once from the environment (no policy numbers here: only service limits)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.rulebook.loader import DEFAULT_RULES_DIR

DEFAULT_DATABASE_URL = "sqlite:///carerules-decisions.db"  # relative to the working directory


def _int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    value = int(text)
    if value <= 0:
        raise ValueError(f"{name} must be a positive whole number, got {text!r}")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    rules_dir: Path = DEFAULT_RULES_DIR
    max_body_bytes: int = 1_000_000  # one placement is under 2 kB; a full batch well under this
    max_batch: int = 500  # placements in one POST /v1/decisions/batch; bigger books go to /v1/audits
    max_upload_bytes: int = 50_000_000  # a CSV/Excel upload to /v1/audits
    recent_limit: int = 50

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("CARERULES_DATABASE_URL") or DEFAULT_DATABASE_URL,
            rules_dir=Path(os.environ.get("CARERULES_RULES_DIR") or DEFAULT_RULES_DIR),
            max_body_bytes=_int("CARERULES_MAX_BODY_BYTES", cls.max_body_bytes),
            max_batch=_int("CARERULES_MAX_BATCH", cls.max_batch),
            max_upload_bytes=_int("CARERULES_MAX_UPLOAD_BYTES", cls.max_upload_bytes),
        )
