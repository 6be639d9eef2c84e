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
    # Sign-in (see README, "Users and sign-in")
    host: str = "127.0.0.1"  # the address served (carerules serve sets it): loopback allows the local single user
    trusted_proxies: tuple[str, ...] = ()  # addresses (or networks) of a single-sign-on proxy whose user header counts
    sso_user_header: str = "X-Remote-User"
    sso_roles_header: str = ""  # optional: the proxy also sends the user's roles, comma-separated
    session_hours: int = 10  # a web sign-in lasts this long

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("CARERULES_DATABASE_URL") or DEFAULT_DATABASE_URL,
            rules_dir=Path(os.environ.get("CARERULES_RULES_DIR") or DEFAULT_RULES_DIR),
            max_body_bytes=_int("CARERULES_MAX_BODY_BYTES", cls.max_body_bytes),
            max_batch=_int("CARERULES_MAX_BATCH", cls.max_batch),
            max_upload_bytes=_int("CARERULES_MAX_UPLOAD_BYTES", cls.max_upload_bytes),
            host=os.environ.get("CARERULES_HOST") or cls.host,
            trusted_proxies=tuple(
                part.strip() for part in os.environ.get("CARERULES_TRUSTED_PROXIES", "").split(",") if part.strip()
            ),
            sso_user_header=os.environ.get("CARERULES_SSO_USER_HEADER") or cls.sso_user_header,
            sso_roles_header=os.environ.get("CARERULES_SSO_ROLES_HEADER") or cls.sso_roles_header,
            session_hours=_int("CARERULES_SESSION_HOURS", cls.session_hours),
        )
