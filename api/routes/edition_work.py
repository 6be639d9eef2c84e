"""What the editions routes and the Rates page do, apart from HTTP (SPEC §18): draft an edition from a rates
file with its effect on the last audited book, publish or reject it with four eyes, find a kept edition's engine
for a replay. Blocking: the routes run these on a worker thread."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from api.auth.identity import Identity
from api.routes.responses import ApiError
from api.routes.service import loads
from api.serve.edition import Editions
from api.store.audit_results import AuditStore
from api.store.editions import DRAFT, PUBLISHED, REJECTED, EditionStore, NewEdition, summary
from engine.audit.books.read import BookError
from engine.audit.edition_effect import edition_effect
from engine.audit.fee_review import fee_review
from engine.decide import Engine
from engine.editions.draft import Draft, StaleDraft, draft_from_rates, loaded, publish, publishing
from engine.editions.rates_import import RatesImportError
from engine.editions.snapshot import pack, unpack
from engine.editions.whatif import UpliftError
from engine.explain.json_text import dumps
from engine.rulebook.loader import Rulebook
from engine.rulebook.strict_yaml import RulebookError

MAX_WHY = MAX_REASON = 2000
ENGINES_KEPT = 8  # the rulebooks of past editions loaded for replays, per worker


@dataclass(frozen=True)
class Upload:
    path: Path  # the rates file, saved
    name: str  # its name as uploaded


def check_text(name: str, text: str | None, label: str) -> str:
    """A required short text (why, reason), stripped; 422 naming the field otherwise."""
    text = (text or "").strip()
    if not text or len(text) > MAX_WHY:
        raise ApiError(
            422, "invalid_input", f"give {label}", {name: [f"Give {label}, in at most {MAX_WHY:,} characters"]}
        )
    return text


def last_audited_book(audits: AuditStore, now: datetime) -> tuple[Any, datetime] | None:
    """The most recent audit's book, as a table of text (its results.csv with the result columns left out: the
    input columns as they were read), and when it ran; None when no audit is kept."""
    import pandas as pd

    from engine.audit.outputs.results import RESULT_COLUMNS

    found = audits.latest("results.csv", now)
    if found is None:
        return None
    stored, audited_at = found
    with tempfile.TemporaryDirectory(prefix="carerules-effect-") as scratch:
        path = Path(scratch) / "results.csv"
        with open(path, "wb") as out:
            for part in range(stored.parts):
                out.write(audits.part(stored, part))
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return frame.drop(columns=[name for name in RESULT_COLUMNS if name in frame.columns]), audited_at


NO_AUDIT = "No audit has been run (or kept): run one to see this draft's effect."


def last_audit_effect(audits: AuditStore, draft: Draft, now: datetime) -> dict[str, Any]:
    """The draft's effect on the most recent audit's book, or why there is none."""
    found = last_audited_book(audits, now)
    if found is None:
        return {"audited": False, "message": NO_AUDIT}
    frame, audited_at = found
    try:
        effect = edition_effect(frame, draft.base, draft.book)
    except (BookError, RulebookError) as exc:
        return {"audited": True, "audited_at": audited_at, "message": f"The last audit's book cannot be read: {exc}"}
    return {"audited": True, "audited_at": audited_at, **effect}


def fee_review_of_last_audit(
    audits: AuditStore, book: Rulebook, uplift: str, start: date, budget: int | None, now: datetime
) -> dict[str, Any]:
    """The annual fee review (``carerules whatif --uplift``) on the most recent audit's book; 422 naming the
    field for an uplift or a book that cannot be used."""
    found = last_audited_book(audits, now)
    if found is None:
        raise ApiError(422, "no_audit", NO_AUDIT, {"uplift": ["No audit has been run (or kept): run one first"]})
    frame, audited_at = found
    try:
        review = fee_review(frame, uplift, start, budget, rules=book)
    except UpliftError as exc:
        raise ApiError(422, "invalid_input", str(exc), {"uplift": [str(exc)]}) from None
    except (BookError, RulebookError) as exc:
        raise ApiError(
            422, "invalid_input", str(exc), {"uplift": [f"The last audit's book cannot be read: {exc}"]}
        ) from None
    return {"audited_at": audited_at, **review}


def draft_edition(
    store: EditionStore, audits: AuditStore, rules_dir: Path, upload: Upload, why: str, replace: bool,
    sheet: str | None, identity: Identity, now: datetime,
) -> int:  # fmt: skip
    """Validate the rates file against the rulebook in force and keep the draft; its id. 422 listing every
    problem of a file that cannot be used."""
    try:
        draft = draft_from_rates(upload.path, rules_dir, replace, sheet)
    except RatesImportError as exc:
        problems = [problem.replace(str(upload.path), upload.name) for problem in exc.problems]
        raise ApiError(422, "invalid_rates", "the rates file cannot be used", {"file": problems}) from None
    effect = last_audit_effect(audits, draft, now)
    return store.add(
        NewEdition(
            drafted_by=identity.name,
            drafted_at=now,
            why=why,
            source_name=upload.name[:255],
            version=draft.version,
            base_version=draft.base_version,
            changes_json=dumps(draft.changes, indent=None),
            effect_json=dumps(effect, indent=None),
            files=pack(draft.files),
            base_files=pack(draft.base_files),
        )
    )


def edition_json(store: EditionStore, edition_id: int, in_force: str) -> dict[str, Any]:
    row = store.get(edition_id)
    if row is None:
        raise ApiError(404, "not_found", f"no edition {edition_id}")
    return {**summary(row, in_force), "changes": loads(row.changes_json), "effect": loads(row.effect_json)}


def _decidable(store: EditionStore, edition_id: int, identity: Identity) -> Any:
    row = store.get(edition_id)
    if row is None:
        raise ApiError(404, "not_found", f"no edition {edition_id}")
    if row.drafted_by == identity.name:  # four eyes, whatever roles the drafter holds
        raise ApiError(403, "four_eyes", "you drafted this edition: someone else must publish or reject it")
    if row.status != DRAFT:
        raise ApiError(409, "already_decided", f"edition {edition_id} is {row.status}, not a draft")
    return row


def publish_edition(
    store: EditionStore, editions: Editions, edition_id: int, identity: Identity, now: datetime
) -> list[str]:
    """Write the draft's rulebook into the served folder (one publish at a time), record who and when, and swap
    this worker to it at once (the others' watchers follow within a second); the files written."""
    rules_dir = editions.rules_dir
    with publishing(rules_dir):
        row = _decidable(store, edition_id, identity)
        files = unpack(store.files(edition_id) or b"")
        try:
            written = publish(files, row.base_version, row.version, rules_dir)
        except StaleDraft as exc:
            raise ApiError(
                409, "stale_draft", f"{exc}: another edition was published since; redraft from the rates file"
            ) from None
        except RatesImportError as exc:
            raise ApiError(500, "publish_failed", "; ".join(exc.problems)) from None
        store.decide(edition_id, PUBLISHED, identity.name, now, None)
    editions.check(force=True)  # waits for a check the watcher may have begun, then this worker serves it
    return written


def reject_edition(store: EditionStore, rules_dir: Path, edition_id: int, identity: Identity, reason: str,
                   now: datetime) -> None:  # fmt: skip
    with publishing(rules_dir):  # never while the same draft is being published
        _decidable(store, edition_id, identity)
        store.decide(edition_id, REJECTED, identity.name, now, reason)


_engines: OrderedDict[str, Engine] = OrderedDict()
_engines_lock = threading.Lock()


def engine_for(store: EditionStore, editions: Editions, wanted: str) -> tuple[Engine, int | None]:
    """The engine of an edition named by its id or its rulebook version (the edition in force, or any kept
    rulebook: one an edition makes or was drafted against); 404 when none is known."""
    edition_id = int(wanted) if wanted.isdigit() else None
    current = editions.current.engine
    if edition_id is None and wanted == current.book.version:
        return current, None
    data = store.files(edition_id) if edition_id is not None else store.files_of_version(wanted)
    if data is None:
        raise ApiError(404, "not_found", f"no edition {wanted!r} (give an edition's id or a rulebook version)")
    key = hashlib.sha256(data).hexdigest()
    with _engines_lock:
        engine = _engines.get(key)
        if engine is not None:
            _engines.move_to_end(key)
            return engine, edition_id
    engine = Engine(loaded(unpack(data)))
    with _engines_lock:
        _engines[key] = engine
        while len(_engines) > ENGINES_KEPT:
            _engines.popitem(last=False)
    return engine, edition_id


def save_upload(source: Any, name: str) -> Upload:
    """An uploaded file saved to a private temporary folder, keeping its suffix (the reader goes by it)."""
    folder = Path(tempfile.mkdtemp(prefix="carerules-rates-"))
    path = folder / f"rates{Path(name).suffix.lower()}"
    with open(path, "wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)
    return Upload(path, name)


def discard(upload: Upload) -> None:
    shutil.rmtree(upload.path.parent, ignore_errors=True)
