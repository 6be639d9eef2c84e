"""The API's settings: one class, read from ``CARERULES_*`` environment variables (docs/operators.md, "Settings").

Service limits only; no policy numbers here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from api.serve.forwarded import clean_root, networks
from engine.rulebook.loader import DEFAULT_RULES_DIR

DEFAULT_DATABASE_URL = "sqlite:///carerules-decisions.db"  # relative to the working directory
Positive = Annotated[int, Field(gt=0)]
Seconds = Annotated[float, Field(gt=0)]


class Settings(BaseSettings):
    """Every setting of the service. Each field ``name`` is read from ``CARERULES_NAME`` (case ignored)."""

    model_config = SettingsConfigDict(env_prefix="CARERULES_", frozen=True, extra="forbid")

    database_url: str = Field(default=DEFAULT_DATABASE_URL, min_length=1)
    rules_dir: Path = DEFAULT_RULES_DIR
    # The provider register and block-bed file (SPEC §17): read at start; single decisions then get the PRV
    # rules, and an upload audit given no file of its own uses these
    providers_file: Path | None = None
    block_beds_file: Path | None = None
    # Requests
    max_body_bytes: Positive = 1_000_000  # one placement is under 2 kB; a full batch well under this
    max_batch: Positive = 500  # placements in one POST /v1/decisions/batch; bigger books go to /v1/audits
    recent_limit: Positive = 50
    allowed_hosts: Annotated[list[str], NoDecode] = ["localhost", "127.0.0.1"]
    # Uploads to POST /v1/audits
    max_upload_bytes: Positive = 50_000_000
    max_upload_rows: Positive = 1_000_000
    max_cell_chars: Positive = 32_767  # Excel's own limit for a cell
    max_decompressed_bytes: Positive = 300_000_000  # an .xlsx unpacked
    max_audit_seconds: Seconds = 120.0
    max_concurrent_audits: Positive = 1  # per worker process; others get 429
    # The decision log's database
    db_timeout_seconds: Seconds = 5.0  # connect and statement timeout; then 503
    # SQLite: how the decision writer's commits are synced (api/store/sqlite_writer.py). full: each commit is on the
    # disk before its 201 (survives a power cut); normal: in the log file (WAL) before its 201, the disk synced at
    # each checkpoint (survives the server's crash or kill -9; a power cut may lose the last few decisions)
    sqlite_synchronous: Literal["full", "normal"] = "full"
    # Audit results (api/store/audit_results.py): kept in the decision log's database, so every worker serves them
    audit_retention_days: Positive = 7  # an audit's downloads are deleted this long after it ran
    audit_results_per_user: Positive = 20  # a user's older audits' downloads are deleted beyond this many
    # Connections
    keep_alive_seconds: Positive = 5
    request_read_seconds: Seconds = 30.0  # a client that takes longer to send its request is cut off
    max_connections: Positive | None = None  # per worker process; beyond it 503 (uvicorn's limit_concurrency)
    # Sign-in (docs/operators.md, "Users, sign-in and local mode")
    host: str = "127.0.0.1"  # the address served (carerules serve sets it): loopback allows the local single user
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()  # single-sign-on proxy addresses or networks
    sso_user_header: str = "X-Remote-User"
    sso_roles_header: str = ""  # optional: the proxy also sends the user's roles, comma-separated
    session_hours: Positive = 10  # a web sign-in lasts this long
    # Sign-in defences (docs/security.md): the proxy's shared secret, cookies over HTTPS, sign-in attempts
    sso_secret: SecretStr = SecretStr("")  # the proxy also sends it in X-Carerules-Proxy-Secret (needed on loopback)
    secure_cookies: bool = False  # cookies always Secure; otherwise when the request came over HTTPS
    signin_attempts_per_client: Positive = 20  # web sign-in attempts from one address per window; then 429
    signin_attempts_per_name: Positive = 10  # web sign-in attempts naming one user per window; then 429
    signin_window_seconds: Positive = 300
    # Upload and input hardening (issue 22; docs/security.md)
    # Each upload audit's address space (RLIMIT_AS); past it the audit stops with a 422. A 1,000,000-row CSV (the
    # row limit) peaked at 6.2 GB of address space (4.3 GB resident): lower this with max_upload_rows.
    audit_memory_bytes: Positive = 8_000_000_000
    # Behind a reverse proxy (api/serve/forwarded.py)
    forwarded_allow_ips: Annotated[tuple[str, ...], NoDecode] = ()  # proxies whose X-Forwarded-Proto/-For are believed
    root_path: str = ""  # the sub-path the proxy serves the app under, e.g. /carerules
    # The first administrator of a fresh database (api/auth/bootstrap.py): no default token, ever
    admin_token_file: Path | None = None  # a secret file holding the token (e.g. /run/secrets/carerules_admin_token)
    admin_token: SecretStr = SecretStr("")  # or the token itself (the file is better: environments leak)
    admin_name: str = "admin"
    admin_roles: Annotated[list[str], NoDecode] = ["admin"]
    # Monitoring (api/serve/metrics.py): /metrics for an admin, or for a scraper sending this token
    metrics_token: SecretStr = SecretStr("")

    @field_validator("allowed_hosts", "trusted_proxies", "forwarded_allow_ips", "admin_roles", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [host.strip() for host in value.split(",") if host.strip()]
        return value

    @field_validator("admin_token_file", "providers_file", "block_beds_file", mode="before")
    @classmethod
    def _no_file(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        networks(value)  # an address or network that cannot be read is refused when the settings are read
        return value

    @field_validator("root_path")
    @classmethod
    def _root(cls, value: str) -> str:
        return clean_root(value)

    @classmethod
    def from_env(cls) -> Settings:
        return cls()
