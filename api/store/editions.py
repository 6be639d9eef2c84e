"""Editions of the rulebook (SPEC §18): each draft made from a rates file, who drafted it, when and why, its
changes, its effect on the last audited book and the whole rulebook it makes (and the one it was drafted against),
then who published or rejected it, when and why. Rows are kept for good; only the status and the decision are
written once after the draft (published, rejected) and a published edition becomes superseded by the next.

The rulebooks are kept here, compressed (about 25 kB each), not in a folder: every worker and every host reads
them for a replay, and nothing else needs to be deployed or backed up. Schema: migration ``0006_editions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, Integer, LargeBinary, String, Text, insert, select, update
from sqlalchemy.orm import Mapped, mapped_column

from api.store.decision_log import Base

DRAFT, PUBLISHED, REJECTED, SUPERSEDED = "draft", "published", "rejected", "superseded"


class EditionRecord(Base):
    __tablename__ = "editions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    drafted_by: Mapped[str] = mapped_column(String(100))
    drafted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    why: Mapped[str] = mapped_column(Text)
    source_name: Mapped[str] = mapped_column(String(255))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str] = mapped_column(String(32), index=True)
    base_version: Mapped[str] = mapped_column(String(32), index=True)
    changes_json: Mapped[str] = mapped_column(Text)
    effect_json: Mapped[str] = mapped_column(Text)
    files: Mapped[bytes] = mapped_column(LargeBinary)  # the rulebook it makes (engine/editions/snapshot.py)
    base_files: Mapped[bytes] = mapped_column(LargeBinary)  # the rulebook it was drafted against


EDITIONS = EditionRecord.__table__
_SUMMARY = [column for column in EDITIONS.c if column.name not in ("files", "base_files")]


@dataclass(frozen=True)
class NewEdition:
    drafted_by: str
    drafted_at: datetime
    why: str
    source_name: str
    version: str
    base_version: str
    changes_json: str
    effect_json: str
    files: bytes
    base_files: bytes


def _utc(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)  # SQLite keeps no zone


def summary(row: Any, in_force: str | None = None) -> dict[str, Any]:
    """An edition as the API shows it (``in_force``: the version served now, to say whether a draft is stale)."""
    out = {
        "id": row.id,
        "status": row.status,
        "drafted_by": row.drafted_by,
        "drafted_at": _utc(row.drafted_at),
        "why": row.why,
        "file": row.source_name,
        "decided_by": row.decided_by,
        "decided_at": _utc(row.decided_at),
        "reason": row.reason,
        "version": row.version,
        "base_version": row.base_version,
    }
    if in_force is not None:
        out["stale"] = row.status == DRAFT and row.base_version != in_force
    return out


class EditionStore:
    """Blocking calls: the routes run them off the event loop."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, edition: NewEdition) -> int:
        with self.engine.begin() as connection:
            values = {**edition.__dict__, "status": DRAFT}
            return int(connection.execute(insert(EDITIONS).returning(EDITIONS.c.id), values).scalar_one())

    def all(self) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(select(*_SUMMARY).order_by(EDITIONS.c.id.desc())).all())

    def get(self, edition_id: int) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(select(*_SUMMARY).where(EDITIONS.c.id == edition_id)).first()

    def files(self, edition_id: int) -> bytes | None:
        with self.engine.connect() as connection:
            found = connection.execute(select(EDITIONS.c.files).where(EDITIONS.c.id == edition_id)).scalar()
        return bytes(found) if found is not None else None

    def files_of_version(self, version: str) -> bytes | None:
        """A kept rulebook with this version: one an edition makes, else one an edition was drafted against."""
        with self.engine.connect() as connection:
            made = select(EDITIONS.c.files).where(EDITIONS.c.version == version).limit(1)
            found = connection.execute(made).scalar()
            if found is None:
                against = select(EDITIONS.c.base_files).where(EDITIONS.c.base_version == version).limit(1)
                found = connection.execute(against).scalar()
        return bytes(found) if found is not None else None

    def decide(self, edition_id: int, status: str, by: str, at: datetime, reason: str | None) -> bool:
        """Record a draft's publication or rejection, once: False when it is no longer a draft. Publishing
        supersedes the edition published before it."""
        with self.engine.begin() as connection:
            done = connection.execute(
                update(EDITIONS)
                .where(EDITIONS.c.id == edition_id, EDITIONS.c.status == DRAFT)
                .values(status=status, decided_by=by, decided_at=at, reason=reason)
            ).rowcount
            if done and status == PUBLISHED:
                connection.execute(
                    update(EDITIONS)
                    .where(EDITIONS.c.id != edition_id, EDITIONS.c.status == PUBLISHED)
                    .values(status=SUPERSEDED)
                )
        return bool(done)
