"""Approvals and the searchable log: asking for approval, who may approve a decision, recording it once, and
finding decisions by status, placement, provider, outcome, rule and user (as JSON or CSV), or those waiting for
the signed-in approver.

SPEC §14.2: trying prices is not asking for approval (a needs_approval decision is ``checked`` until a broker
asks, then ``pending``); four eyes (whoever made or asked for a decision never approves or declines it)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import Engine, Select, and_, false, literal, or_, select
from sqlalchemy.orm import Session

from api.auth.identity import CHECK, Identity
from api.routes.responses import ApiError
from api.routes.service import stored
from api.store.decision_log import DecisionRecord
from api.store.workflow import (
    APPROVALS,
    REQUESTS,
    AlreadyDecided,
    AlreadyRequested,
    WorkflowStore,
    request_json,
    status_of,
)
from engine.audit.outputs.safe import neutralise_table
from engine.validate.placement import InputError

STATUSES = ("checked", "pending", "approved", "declined", "not_needed")
OUTCOMES = ("proceed", "needs_approval", "refer", "not_permitted")
WAITING_FOR = ("me",)
RULE_ID = re.compile(r"^[A-Z]{2,4}-\d{2}$")


@dataclass(frozen=True)
class LogFilter:
    status: str | None = None
    placement_id: str | None = None
    provider: str | None = None
    outcome: str | None = None
    rule_id: str | None = None
    user: str | None = None
    waiting_for: str | None = None

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
        if clean["waiting_for"] and clean["waiting_for"] not in WAITING_FOR:
            errors["waiting_for"] = ["must be me (the pending decisions the signed-in user may approve)"]
        elif clean["waiting_for"] and clean["status"] not in (None, "pending"):
            errors["waiting_for"] = ["lists pending decisions only: leave status out or set it to pending"]
        for name, value in clean.items():
            if value and (len(value) > 200 or not value.isprintable()):
                errors.setdefault(name, []).append("must be at most 200 printable characters")
        if errors:
            raise InputError(errors)
        return LogFilter(**clean)

    def query_text(self) -> dict[str, str]:
        return {name: value for name, value in vars(self).items() if value}


Found = tuple[DecisionRecord, dict[str, Any] | None, dict[str, Any] | None]  # a decision, its request, its approval

_STATE = (
    REQUESTS.c.id.label("request_id"),
    REQUESTS.c.user_name.label("requested_by"),
    REQUESTS.c.requested_at,
    APPROVALS.c.id.label("approval_id"),
    APPROVALS.c.user_name.label("approved_by"),
    APPROVALS.c.role.label("approval_role"),
    APPROVALS.c.decided_at.label("approved_at"),
    APPROVALS.c.decision.label("approval_decision"),
    APPROVALS.c.reason.label("approval_reason"),
)


def _found(row: Any) -> Found:
    decision: DecisionRecord = row[0]
    if decision.decided_at.tzinfo is None:  # SQLite keeps no zone; everything is written in UTC
        decision.decided_at = decision.decided_at.replace(tzinfo=UTC)
    request = request_json(row.requested_by, row.requested_at) if row.request_id is not None else None
    approval = None
    if row.approval_id is not None:
        at = row.approved_at if row.approved_at.tzinfo else row.approved_at.replace(tzinfo=UTC)
        approval = {
            "decision": row.approval_decision,
            "by": row.approved_by,
            "role": row.approval_role,
            "at": at,
            "reason": row.approval_reason,
        }
    return decision, request, approval


def search(engine: Engine, wanted: LogFilter, limit: int, identity: Identity | None = None) -> list[Found]:
    """At most ``limit`` decisions, each with its request for approval and its approval (or None): newest first,
    or, waiting for ``identity``, the pending decisions it may approve, longest waiting first."""
    record = DecisionRecord
    query: Select[Any] = (
        select(record, *_STATE)
        .outerjoin(REQUESTS, REQUESTS.c.decision_id == record.id)
        .outerjoin(APPROVALS, APPROVALS.c.decision_id == record.id)
    )
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
    needs = record.outcome == "needs_approval"
    if wanted.status == "not_needed":
        conditions.append(record.outcome != "needs_approval")
    elif wanted.status == "checked":
        conditions += [needs, REQUESTS.c.id.is_(None), APPROVALS.c.id.is_(None)]
    elif wanted.status == "pending" or wanted.waiting_for:
        conditions += [needs, REQUESTS.c.id.is_not(None), APPROVALS.c.id.is_(None)]
    elif wanted.status in ("approved", "declined"):
        conditions.append(APPROVALS.c.decision == ("approve" if wanted.status == "approved" else "decline"))
    if wanted.waiting_for:
        if identity is None:
            raise ValueError("waiting_for needs the signed-in identity")
        conditions += _may_approve(identity)
        query = query.where(and_(*conditions)).order_by(REQUESTS.c.requested_at, record.id)
        return list(_approvable(engine, query, identity, limit))
    if conditions:
        query = query.where(and_(*conditions))
    query = query.order_by(record.id.desc()).limit(limit)
    with Session(engine, expire_on_commit=False) as session:
        return [_found(row) for row in session.execute(query).all()]


def _may_approve(identity: Identity) -> list[Any]:
    """What the database can check of "may ``identity`` approve it": neither made nor asked by them (four eyes),
    and naming at least one role they cover (the exact test, every role named, is ``acting_role``). The roles are
    the rulebook's of the edition the request uses (``identity.approvers``)."""
    record, me = DecisionRecord, identity.name
    coverable = identity.approvers.coverable(identity.roles)
    if not coverable:
        return [false()]
    spaced = literal(" ") + record.approvers + literal(" ")
    return [
        or_(record.user_name.is_(None), record.user_name != me),
        or_(REQUESTS.c.user_name.is_(None), REQUESTS.c.user_name != me),
        or_(*(spaced.like(f"% {role} %") for role in coverable)),
    ]


def _approvable(engine: Engine, query: Select[Any], identity: Identity, limit: int) -> Iterator[Found]:
    with Session(engine, expire_on_commit=False) as session:
        taken = 0
        for row in session.execute(query.execution_options(yield_per=limit)):
            found = _found(row)
            if identity.acting_role(needed_roles(found[0])) is None:
                continue
            yield found
            taken += 1
            if taken >= limit:
                return


def with_approval(
    record: DecisionRecord, request: dict[str, Any] | None, approval: dict[str, Any] | None
) -> dict[str, Any]:
    """A stored decision as the API shows it: its approval status, who asked for approval and who it waits for,
    and the approval itself."""
    status = status_of(record.outcome, request, approval)
    asked = None if request is None else {**request, "waiting_for": needed_roles(record)}
    return {**stored(record), "status": status, "approval_request": asked, "approval": approval}


def needed_roles(record: DecisionRecord) -> list[str]:
    return (record.approvers or "").split()


def made_or_asked_by(record: DecisionRecord, request: dict[str, Any] | None, name: str) -> bool:
    """Four eyes: did ``name`` make this decision or ask for its approval."""
    return record.user_name == name or (request is not None and request["by"] == name)


def request_approval(store: WorkflowStore, record: DecisionRecord, identity: Identity, now: datetime) -> dict[str, Any]:
    """Ask for approval of a checked decision: it becomes pending. 409 when its outcome needs no approval or
    approval was already asked for (or decided); 403 without a role that checks placements."""
    if not identity.holds(CHECK):
        raise ApiError(403, "forbidden", f"{identity.name} may not ask for approval: it needs a broker's role")
    if record.outcome != "needs_approval":
        raise ApiError(409, "no_approval_needed", f"decision {record.id} is {record.outcome}: it needs no approval")
    request, approval = store.state_of(record.id)
    if approval is not None:
        raise ApiError(409, "already_decided", f"decision {record.id} has already been approved or declined")
    if request is not None:
        raise ApiError(409, "already_requested", f"approval of decision {record.id} was already asked for")
    try:
        store.add_request(record.id, identity.name, now)
    except AlreadyRequested:
        raise ApiError(409, "already_requested", f"approval of decision {record.id} was already asked for") from None
    return {
        "decision_id": record.id,
        "status": "pending",
        "by": identity.name,
        "at": now,
        "waiting_for": needed_roles(record),
    }


def approve(
    store: WorkflowStore, record: DecisionRecord, identity: Identity, choice: str, reason: str, now: datetime
) -> dict[str, Any]:
    """Record ``identity``'s approve/decline of ``record``: 409 when none is needed, when approval was not asked
    for, or when it is already decided; 403 when the identity holds no role that covers the band, or made or
    asked for the decision itself (four eyes)."""
    if record.outcome != "needs_approval":
        raise ApiError(409, "no_approval_needed", f"decision {record.id} is {record.outcome}: it needs no approval")
    request, approval = store.state_of(record.id)
    if approval is not None:
        raise ApiError(409, "already_decided", f"decision {record.id} has already been approved or declined")
    if made_or_asked_by(record, request, identity.name):
        raise ApiError(
            403,
            "four_eyes",
            f"{identity.name} made or asked for decision {record.id}: someone else must approve or decline it",
        )
    if request is None:
        raise ApiError(
            409,
            "not_requested",
            f"decision {record.id} is a checked price: nobody has asked for its approval "
            f"(POST /v1/decisions/{record.id}/request-approval)",
        )
    needed = needed_roles(record)
    role = identity.acting_role(needed)
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
    "requested_by",
    "requested_at",
)


def as_csv(found: list[Found]) -> str:
    """The decisions as CSV, after UTF-8's byte order mark (Excel then reads it as UTF-8, as the audit CSVs);
    every text cell through the audit outputs' formula neutraliser."""
    rows = []
    for record, request, decided in found:
        approval = decided or {}
        asked = request or {}
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
            status_of(record.outcome, request, decided),
            approval.get("by"),
            approval.get("role"),
            approval.get("at"),
            approval.get("reason"),
            asked.get("by"),
            asked.get("at"),
        )
        rows.append([_text(value) for value in values])
    columns = {name: pa.array([row[i] for row in rows], pa.string()) for i, name in enumerate(CSV_COLUMNS)}
    table = neutralise_table(pa.table(columns))
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(zip(*(table.column(name).to_pylist() for name in CSV_COLUMNS)))
    return out.getvalue()


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, (datetime, date)) else str(value)
