"""What the routes do, kept apart from HTTP: decide and log, fetch, replay, the catalogue. No policy here."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from api.serve.metrics import record_decisions
from api.store.decision_log import DecisionRecord, NewRecord
from api.store.log_writer import Writer
from engine.decide import Engine
from engine.explain.decision import Decision, dumps
from engine.validate.placement import InputError
from engine.validate.register import ProviderRegister

Clock = Callable[[], datetime]


SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # \ud800 to \udfff: half of a pair, on its own not text


def parse_json(raw: bytes, what: str = "placement") -> Any:
    """Request bytes → JSON values with exact Decimals (as the CLI reads files), or an InputError that names the
    field: an integer too long to read (over 4,300 digits), text with an unpaired surrogate or a key given twice
    in one object (JSON parsers keep the last: a fee sent twice was priced at the second) is the field's fault,
    never a 500 or a 503."""
    decoder, twice = _decoder()
    twice.clear()  # a parse that raised may have left objects behind
    try:
        text = raw.decode("utf-8")
        if text.startswith("\ufeff"):  # as json.loads refuses it
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        value = decoder.decode(text)
    except UnicodeDecodeError:
        raise InputError({what: ["not valid UTF-8 text"]}) from None
    except json.JSONDecodeError as exc:
        raise InputError({what: [f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]}) from None
    except RecursionError:
        raise InputError({what: ["JSON nested too deeply"]}) from None
    except ValueError:  # Python refuses to convert an integer of more than 4,300 digits
        marked = json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_int=_int_or_too_long)
        raise InputError({field: ["a number far too long to be a value"] for field in _fields(marked, what)}) from None
    if twice:
        raise InputError(
            {name: ["given more than once: each key may appear once in an object"] for name in _keys_twice(value, what)}
        )
    if SURROGATE_ESCAPE.search(raw):
        bad = list(_fields(value, what))
        if bad:
            raise InputError({field: ["not text: an unpaired surrogate (\\ud800 to \\udfff)"] for field in bad})
    return value


_decoders = threading.local()


def _decoder() -> tuple[json.JSONDecoder, list[_Twice]]:
    """This thread's decoder and the list its duplicate-key hook fills: made once a thread, not once a request
    (``json.loads`` with a hook makes a new decoder every call; docs/benchmarks.md, "The API's shell, fourth pass")."""
    made = getattr(_decoders, "made", None)
    if made is None:
        twice: list[_Twice] = []
        made = _decoders.made = (json.JSONDecoder(parse_float=Decimal, object_pairs_hook=_no_key_twice(twice)), twice)
    return made  # type: ignore[no-any-return]


class _TooLong:
    pass


class _Twice(dict):  # type: ignore[type-arg]
    """An object in which a key was given more than once; ``keys`` names them."""

    keys_twice: list[str]


def _no_key_twice(found: list[_Twice]) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        built = dict(pairs)
        if len(built) == len(pairs):
            return built
        seen: set[str] = set()
        marked = _Twice(built)
        marked.keys_twice = [key for key, _ in pairs if key in seen or seen.add(key)]  # type: ignore[func-returns-value]
        found.append(marked)
        return marked

    return build


def _keys_twice(value: Any, path: str) -> Any:
    """The names of the keys given twice, as ``core_weekly_fee`` or ``placements[2].provider``."""
    if isinstance(value, dict):
        for key in getattr(value, "keys_twice", ()):
            yield key if path in ("placement", "") else f"{path}.{key}"
        for key, item in value.items():
            yield from _keys_twice(item, key if path in ("placement", "") else f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _keys_twice(item, f"{path}[{index}]")


def _int_or_too_long(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return _TooLong()


def _fields(value: Any, path: str) -> Any:
    """The names of the fields holding a too-long number or a string that is not text, as ``provider`` or
    ``placements[2].provider``."""
    if isinstance(value, dict):
        for key, item in value.items():
            name = key if path in ("placement", "") else f"{path}.{key}"
            if isinstance(key, str) and not _is_text(key):
                yield name
            yield from _fields(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _fields(item, f"{path}[{index}]")
    elif isinstance(value, _TooLong) or (isinstance(value, str) and not _is_text(value)):
        yield path


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def loads(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


@dataclass
class Logged:
    id: int
    decision: Decision
    text: str  # the decision as compact JSON, exactly as stored


@dataclass
class Decider:
    """Decide, then store through the log writer. The engine's work runs on the caller's thread (durable_rules
    is serialised by the engine's lock anyway); only the write waits on the writer thread."""

    engine: Engine
    writer: Writer
    clock: Clock
    providers: ProviderRegister | None = None  # the server's provider register (CARERULES_PROVIDERS_FILE)

    def evaluate(
        self, data: Any, as_at: date | None, user: str | None, channel: str
    ) -> tuple[Decision, str, NewRecord]:
        decision = self.engine.decide(data, as_at, self.providers)
        text = decision.to_json(indent=None)
        return decision, text, self._record(data, decision, text, user, channel)

    async def decide(self, data: Any, as_at: date | None, user: str | None, channel: str) -> Logged:
        """One placement → decision, stored in the log. Bad input raises InputError and stores nothing."""
        decision, text, record = self.evaluate(data, as_at, user, channel)
        (record_id,) = await self.writer.add([record])
        record_decisions([decision.outcome])
        return Logged(record_id, decision, text)

    def evaluate_many(
        self, items: list[Any], as_at: date | None, user: str | None
    ) -> list[tuple[Decision, str, NewRecord] | InputError]:
        results: list[tuple[Decision, str, NewRecord] | InputError] = []
        for item in items:
            try:
                results.append(self.evaluate(item, as_at, user, "batch"))
            except InputError as exc:
                results.append(exc)
        return results

    async def store_many(
        self, evaluated: list[tuple[Decision, str, NewRecord] | InputError]
    ) -> list[Logged | InputError]:
        """Store every decision of a batch in one transaction; input errors stay in their places."""
        ids = iter(await self.writer.add([item[2] for item in evaluated if not isinstance(item, InputError)]))
        record_decisions([item[0].outcome for item in evaluated if not isinstance(item, InputError)])
        return [item if isinstance(item, InputError) else Logged(next(ids), item[0], item[1]) for item in evaluated]

    def _record(self, data: Any, decision: Decision, text: str, user: str | None, channel: str) -> NewRecord:
        return NewRecord(
            decided_at=self.clock(),
            user_name=user,
            channel=channel,
            placement_id=decision.placement_id,
            as_at=decision.as_at,
            outcome=decision.outcome,
            rulebook_version=decision.rulebook_version,
            input_json=dumps(data, indent=None),
            decision_json=text,
            provider=_provider(data),
            rule_ids=" " + " ".join(decision.rule_ids) + " ",
            approvers=" ".join(sorted({f.approver for f in decision.findings if f.approver})),
        )


def _provider(data: Any) -> str | None:
    provider = data.get("provider") if isinstance(data, dict) else None
    return provider.strip() or None if isinstance(provider, str) else None


def stored(record: DecisionRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "decided_at": record.decided_at,
        "user": record.user_name,
        "channel": record.channel,
        "rulebook_version": record.rulebook_version,
        "input": loads(record.input_json),
        "decision": loads(record.decision_json),
    }


def replay(engine: Engine, record: DecisionRecord) -> dict[str, Any]:
    """Evaluate the stored input again at its stored as_at with the engine's (current) rulebook; say what differs.

    Raises InputError when the stored input is no longer valid input.
    """
    before = loads(record.decision_json)
    after = loads(engine.decide(loads(record.input_json), record.as_at).to_json(indent=None))
    differences = compare(before, after)
    changed = bool(
        differences["rules_added"]
        or differences["rules_removed"]
        or differences["figures"]
        or any(differences.get(key) for key in ("rulebook_version", "outcome", "approvers"))
    )
    return {
        "id": record.id,
        "as_at": record.as_at,
        "changed": changed,
        "differences": differences,
        "stored": before,
        "replayed": after,
    }


def _change(before: Any, after: Any) -> dict[str, Any] | None:
    return None if before == after else {"before": before, "after": after}


def _approvers(decision: dict[str, Any]) -> list[str]:
    return sorted({f["approver"] for f in decision["findings"] if f.get("approver")})


def compare(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    rules_before = [f["rule_id"] for f in before["findings"]]
    rules_after = [f["rule_id"] for f in after["findings"]]
    names = list(dict.fromkeys([*before["figures"], *after["figures"]]))
    figures = {
        name: change
        for name in names
        if (change := _change(before["figures"].get(name), after["figures"].get(name))) is not None
    }
    return {
        "rulebook_version": _change(before["rulebook_version"], after["rulebook_version"]),
        "outcome": _change(before["outcome"], after["outcome"]),
        "rules_added": [rule for rule in rules_after if rule not in rules_before],
        "rules_removed": [rule for rule in rules_before if rule not in rules_after],
        "approvers": _change(_approvers(before), _approvers(after)),
        "figures": figures,
    }
