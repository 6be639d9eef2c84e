"""The block-bed file (SPEC §17): the beds the council has block-booked at each provider, from when to when,
whether they are in payment, and (an addition: SPEC names no price) the contracted weekly price of one bed, so
the empty beds' cost a week can be shown. Read as a book is (``engine.audit.books.side_files``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from engine.audit.books.book import Limits
from engine.audit.books.side_files import Row, field, read_side_file
from engine.validate.values import parse_date, parse_flag, parse_money, parse_whole

BLOCK_BED_COLUMNS = ("provider_id", "beds", "from", "to", "in_payment", "weekly_price")
REQUIRED = ("provider_id", "beds", "from", "to", "in_payment")


@dataclass(frozen=True)
class BlockBooking:
    """A block of beds at one provider; ``to`` is the block's last day (empty: open-ended)."""

    row: int
    provider_id: str
    beds: int
    start: date
    end: date | None
    in_payment: bool
    weekly_price: int | None  # pence a bed a week, when the file gives it

    def active_at(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


def read_block(row: Row) -> BlockBooking:
    problems: dict[str, str] = {}
    provider_id = row.get("provider_id")
    if provider_id is None:
        problems["provider_id"] = "is required"
    beds = field(row, "beds", parse_whole, problems)
    if beds is None and "beds" not in problems:
        problems["beds"] = "is required"
    elif beds is not None and beds < 1:
        problems["beds"] = f"must be at least 1, got {beds}"
    start = field(row, "from", parse_date, problems)
    if start is None and "from" not in problems:
        problems["from"] = "is required"
    end = field(row, "to", parse_date, problems)
    if start and end and end < start:
        problems["to"] = f"is before from ({start.isoformat()})"
    in_payment = field(row, "in_payment", parse_flag, problems)
    if in_payment is None and "in_payment" not in problems:
        problems["in_payment"] = "is required (true or false)"
    price = field(row, "weekly_price", parse_money, problems)
    if problems:
        raise ValueError(problems)
    assert provider_id is not None and beds is not None and start is not None and in_payment is not None
    return BlockBooking(0, provider_id, beds, start, end, in_payment, price)


def load_block_beds(
    path: Path | str,
    columns: Mapping[str, Any] | None = None,
    sheet: str | None = None,
    limits: Limits | None = None,
) -> tuple[BlockBooking, ...]:
    """Every block in the file, with its row number; SideFileError (a BookError) when it cannot be used."""
    rows = read_side_file(
        path, f"block-bed file {path}", BLOCK_BED_COLUMNS, REQUIRED, read_block, columns, sheet, limits
    )
    return tuple(
        BlockBooking(number, b.provider_id, b.beds, b.start, b.end, b.in_payment, b.weekly_price) for number, b in rows
    )
