"""Approvals and the searchable log: who may approve a decision, recording it once, and finding decisions by
status, placement, provider, outcome, rule and user (as JSON or CSV)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import Engine, and_, select
from sqlalchemy.orm import Session

from api.auth import Identity, acting_role
from api.db import DecisionRecord
from api.responses import ApiError
from api.service import stored
from api.workflow_db import APPROVALS, AlreadyDecided, WorkflowStore, approval_json, status_of
from engine.audit.safe import neutralise_table
from engine.validate.placement import InputError

STATUSES = ("pending", "approved", "declined", "not_needed")
OUTCOMES = ("proceed", "needs_approval", "refer", "not_permitted")
RULE_ID = re.compile(r"^[A-Z]{2,4}-\d{2}$")


@dataclass(frozen=True)
class LogFilter:
    status: str | None = None
    placement_id: str | None = None
    provider: str | None = None
    outcome: str | None = None
    rule_id: str | None = None
    user: str | None = None

    def check(self) -> LogFilter:
        """The same filter with empty values dropped, or an InputError naming each bad one."""
        clean = {
            name: (value.strip() or None) if isinstance(value, str) else None for name, value in vars(self).items()
        }
        errors: dict[str, list[str]] = {}
        if clean["status"] and clean["status"] not in STATUSES:
            errors["status"] = [f"must be one of {', '.join(STATUSES)}"]
        if clean["outcome"] and clean["outcome"] not in OUTCOMES:
            errors["outcome"] = [f"must be one of {', '.join(OUTCOMES)}"]
        if clean["rule_id"] and not RULE_ID.match(clean["rule_id"]):
            errors["rule_id"] = ["must be a rule id like CHP-02"]
        for name, value in clean.items():
            if value and (len(value) > 200 or not value.isprintable()):
                errors.setdefault(name, []).append("must be at most 200 printable characters")
        if errors:
            raise InputError(errors)
        return LogFilter(**clean)

    def query_text(self) -> dict[str, str]:
        return {name: value for name, value in vars(self).items() if value}


def search(engine: Engine, wanted: LogFilter, limit: int) -> list[tuple[DecisionRecord, dict[str, Any] | None]]:
    """Newest first, at most ``limit``: each decision with its approval (or None)."""
    record = DecisionRecord
    query = select(record, APPROVALS).outerjoin(APPROVALS, APPROVALS.c.decision_id == record.id)
    conditions = []
    if wanted.placement_id:
        conditions.append(record.placement_id == wanted.placement_id)
    if wanted.provider:
        escaped = wanted.provider.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(record.provider.ilike(f"%{escaped}%", escape="\\"))
    if wanted.outcome:
        conditions.append(record.outcome == wanted.outcome)
    if wanted.rule_id:
        conditions.append(record.rule_ids.like(f"% {wanted.rule_id} %"))
    if wanted.user:
        conditions.append(record.user_name == wanted.user)
    if wanted.status == "not_needed":
        conditions.append(record.outcome != "needs_approval")
    elif wanted.status == "pending":
        conditions += [record.outcome == "needs_approval", APPROVALS.c.id.is_(None)]
    elif wanted.status in ("approved", "declined"):
        conditions.append(APPROVALS.c.decision == ("approve" if wanted.status == "approved" else "decline"))
    if conditions:
        query = query.where(and_(*conditions))
    query = query.order_by(record.id.desc()).limit(limit)
    with Session(engine, expire_on_commit=False) as session:
        rows = session.execute(query).all()
    found = []
    for row in rows:
        decision: DecisionRecord = row[0]
        if decision.decided_at.tzinfo is None:  # SQLite keeps no zone; everything is written in UTC
            decision.decided_at = decision.decided_at.replace(tzinfo=UTC)
        found.append((decision, approval_json(row) if row.id is not None and row.decision else None))
    return found


def with_approval(record: DecisionRecord, approval: dict[str, Any] | None) -> dict[str, Any]:
    """A stored decision as the API shows it, with its approval status and the approval itself."""
    return {**stored(record), "status": status_of(record.outcome, approval), "approval": approval}


def needed_roles(record: DecisionRecord) -> list[str]:
    return (record.approvers or "").split()


def approve(
    store: WorkflowStore, record: DecisionRecord, identity: Identity, choice: str, reason: str, now: datetime
) -> dict[str, Any]:
    """Record ``identity``'s approve/decline of ``record``: 409 when none is needed or it is already decided,
    403 when the identity holds no role that covers the band."""
    if record.outcome != "needs_approval":
        raise ApiError(409, "no_approval_needed", f"decision {record.id} is {record.outcome}: it needs no approval")
    needed = needed_roles(record)
    role = acting_role(identity.roles, needed)
    if role is None:
        wanted = " and ".join(n.replace("_", " ") for n in needed)
        raise ApiError(403, "forbidden", f"approving decision {record.id} needs {wanted} (or a higher role)")
    try:
        store.add_approval(record.id, identity.name, role, choice, reason, now)
    except AlreadyDecided:
        raise ApiError(409, "already_decided", f"decision {record.id} has already been approved or declined") from None
    return {
        "decision_id": record.id,
        "status": "approved" if choice == "approve" else "declined",
        "decision": choice,
        "by": identity.name,
        "role": role,
        "at": now,
        "reason": reason,
    }


CSV_COLUMNS = (
    "id",
    "decided_at",
    "user",
    "channel",
    "placement_id",
    "provider",
    "as_at",
    "outcome",
    "rule_ids",
    "approvers",
    "status",
    "approval_by",
    "approval_role",
    "approval_at",
    "approval_reason",
)


def as_csv(found: list[tuple[DecisionRecord, dict[str, Any] | None]]) -> str:
    """The decisions as CSV; every text cell through the audit outputs' formula neutraliser."""
    rows = []
    for record, approval in found:
        approval = approval or {}
        values = (
            record.id,
            record.decided_at,
            record.user_name,
            record.channel,
            record.placement_id,
            record.provider,
            record.as_at,
            record.outcome,
            (record.rule_ids or "").strip(),
            record.approvers,
            status_of(record.outcome, approval or None),
            approval.get("by"),
            approval.get("role"),
            approval.get("at"),
            approval.get("reason"),
        )
        rows.append([_text(value) for value in values])
    columns = {name: pa.array([row[i] for row in rows], pa.string()) for i, name in enumerate(CSV_COLUMNS)}
    table = neutralise_table(pa.table(columns))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(zip(*(table.column(name).to_pylist() for name in CSV_COLUMNS)))
    return out.getvalue()


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, (datetime, date)) else str(value)
