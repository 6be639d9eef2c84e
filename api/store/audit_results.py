"""The outputs of recent audits, kept in the decision-log database so that every worker process can serve them.

Why the database and not a folder: it is already shared by every worker (and every host behind a balancer), it
needs no second setting to deploy and keep private, and a retention period is one indexed ``DELETE``. The size
is kept down: each file is stored in parts of 1 MiB, each compressed (a 100,000-row book's outputs, 60 MB as
written, take about 13 MB), and read back one part at a time, so neither side holds a whole file in memory.

Who may download: only the user who ran the audit; anyone else gets the same 404 as for an audit that does not
exist (the outputs hold personal data, and an audit is quickly run again). Audits are deleted after the
retention period (``CARERULES_AUDIT_RETENTION_DAYS``), and a user's oldest beyond the most kept per user
(``CARERULES_AUDIT_RESULTS_PER_USER``). The schema is owned by the Alembic migration ``0004_audit_results``.
"""

from __future__ import annotations

import secrets
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import DateTime, Engine, Integer, LargeBinary, String, delete, func, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from api.store.decision_log import Base

FILES = {
    "results.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "results.csv": "text/csv; charset=utf-8",
    "isp_no_nhs_contribution.csv": "text/csv; charset=utf-8",
    "needs_approval.csv": "text/csv; charset=utf-8",
    "refer.csv": "text/csv; charset=utf-8",
    "not_permitted.csv": "text/csv; charset=utf-8",
    "nhs_recharge_gaps.csv": "text/csv; charset=utf-8",
    "embargo_or_enquiry.csv": "text/csv; charset=utf-8",
    "sourced_late.csv": "text/csv; charset=utf-8",
    "empty_block_beds.csv": "text/csv; charset=utf-8",
    "errors.csv": "text/csv; charset=utf-8",
    "kpis.json": "application/json",
    "report.html": "text/html; charset=utf-8",
}
PART_BYTES = 1 << 20  # a file is stored in parts of this many bytes (before compression)
COMPRESSION = 1  # zlib's fastest level: CSVs shrink about twentyfold, results.xlsx by half
ID_BYTES = 18  # random bytes of an audit id (24 characters)


class AuditResultRecord(Base):
    __tablename__ = "audit_results"

    audit_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    part: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_name: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    size: Mapped[int] = mapped_column(Integer)  # the part's bytes before compression
    data: Mapped[bytes] = mapped_column(LargeBinary)  # zlib-compressed


RESULTS = AuditResultRecord.__table__


@dataclass(frozen=True)
class StoredFile:
    audit_id: str
    name: str
    parts: int
    size: int

    @property
    def media_type(self) -> str:
        return FILES[self.name]


def new_audit_id() -> str:
    return secrets.token_urlsafe(ID_BYTES)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite keeps no zone; all is written in UTC


class AuditStore:
    """Audit outputs in the database: ``keep`` after an audit, ``find`` and ``part`` to download. Blocking calls:
    the API runs them off the event loop (``api.store.decision_log.off_loop``)."""

    def __init__(self, engine: Engine, retention: timedelta, per_user: int) -> None:
        self.engine = engine
        self.retention = retention
        self.per_user = per_user

    def keep(self, audit_id: str, user: str, folder: Path, now: datetime) -> list[str]:
        """Store the downloadable outputs in ``folder`` under ``audit_id`` for ``user``; delete what has expired
        and the user's oldest audits beyond the most kept. The names stored. Each part is compressed first and
        written in its own short transaction, so the database is never locked for long (SQLite has one writer
        at a time); the audit's id is given to no one before all are written, and a failure deletes them."""
        self.purge(now)
        names = [name for name in FILES if (folder / name).is_file()]
        expires = now + self.retention
        try:
            for name in names:
                for part, data in enumerate(_parts(folder / name)):
                    row = {"audit_id": audit_id, "name": name, "part": part, "user_name": user,
                           "created_at": now, "expires_at": expires, "size": len(data),
                           "data": zlib.compress(data, COMPRESSION)}  # fmt: skip
                    with self.engine.begin() as connection:
                        connection.execute(insert(RESULTS), row)
        except BaseException:
            self._delete([audit_id])
            raise
        kept = (
            select(RESULTS.c.audit_id)
            .where(RESULTS.c.user_name == user)
            .group_by(RESULTS.c.audit_id)
            .order_by(func.max(RESULTS.c.created_at).desc(), RESULTS.c.audit_id.desc())
        )
        with self.engine.connect() as connection:
            audits = list(connection.execute(kept).scalars())
        self._delete([one for one in audits[self.per_user :] if one != audit_id])
        return names

    def _delete(self, audit_ids: list[str]) -> None:
        if audit_ids:
            with self.engine.begin() as connection:
                connection.execute(delete(RESULTS).where(RESULTS.c.audit_id.in_(audit_ids)))

    def find(self, audit_id: str, name: str, user: str, now: datetime) -> StoredFile | None:
        """The file if it exists, has not expired and ``user`` ran the audit; else None (the same for all three)."""
        if name not in FILES:
            return None
        query = select(RESULTS.c.user_name, RESULTS.c.expires_at, RESULTS.c.size).where(
            RESULTS.c.audit_id == audit_id, RESULTS.c.name == name
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        if not rows or rows[0].user_name != user or _utc(rows[0].expires_at) <= now:
            return None
        return StoredFile(audit_id, name, len(rows), sum(row.size for row in rows))

    def latest(self, name: str, now: datetime) -> tuple[StoredFile, datetime] | None:
        """The newest unexpired audit's file ``name``, whoever ran it, and when it ran (for a draft edition's
        effect on the last audited book: only totals and placement ids are shown from it), or None."""
        newest = (
            select(RESULTS.c.audit_id, RESULTS.c.created_at)
            .where(RESULTS.c.name == name, RESULTS.c.part == 0, RESULTS.c.expires_at > now)
            .order_by(RESULTS.c.created_at.desc(), RESULTS.c.audit_id.desc())
            .limit(1)
        )
        with self.engine.connect() as connection:
            row = connection.execute(newest).first()
            if row is None:
                return None
            sizes = connection.execute(
                select(RESULTS.c.size).where(RESULTS.c.audit_id == row.audit_id, RESULTS.c.name == name)
            ).scalars()
            sizes = list(sizes)
        return StoredFile(row.audit_id, name, len(sizes), sum(sizes)), _utc(row.created_at)

    def part(self, found: StoredFile, part: int) -> bytes:
        """One part of a file ``find`` found; LookupError if it has been deleted since."""
        query = select(RESULTS.c.data).where(
            RESULTS.c.audit_id == found.audit_id, RESULTS.c.name == found.name, RESULTS.c.part == part
        )
        with self.engine.connect() as connection:
            data = connection.execute(query).scalar()
        if data is None:
            raise LookupError(f"{found.name} of audit {found.audit_id} has been deleted")
        return zlib.decompress(data)

    def purge(self, now: datetime) -> int:
        """Delete every audit past its retention period; how many parts went. (Looks first, so that a database
        with nothing to delete is not locked for writing.)"""
        expired = RESULTS.c.expires_at <= now
        with self.engine.connect() as connection:
            if connection.execute(select(RESULTS.c.audit_id).where(expired).limit(1)).first() is None:
                return 0
        with self.engine.begin() as connection:
            return int(connection.execute(delete(RESULTS).where(expired)).rowcount)


def _parts(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as stream:
        while data := stream.read(PART_BYTES):
            yield data
        if stream.tell() == 0:
            yield b""  # an empty file is one empty part
