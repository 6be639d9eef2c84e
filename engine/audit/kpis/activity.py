"""Activity tables as councils publish them in their Local Account (SPEC §19): the people receiving each service
at the KPI date and the new permanent admissions in the period, by service and setting × age band × in area; and
the annualised gross and council-net cost of each service at the KPI date (the council net over the rows the
KPI "council net cost a week" counts: a financial assessment recorded and the contribution computed).

Rows are grouped by the values the book holds (each service the placement model knows, each care type), never by
a list written here. The setting is the care type where the row has one (residential, nursing), else the service
itself. The age bands start at the dated ages of ``rules/parameters/reporting/`` (18-64, 65+). Whether a service
is in the council's area comes from outside the book (a provider register: ``AuditViews.in_area``): without one,
every row is "not known"; and a start is a permanent admission when ``AuditViews.permanent`` says so (without a
stay type, every start in the period counts).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

from engine.audit.kpis.charging import assessed_rows
from engine.audit.kpis.health import gbp
from engine.audit.views import AtKpiDate, AuditViews
from engine.language.vocabulary import ENUMS
from engine.validate.batch import Col, day_number

AGE_BANDS_FROM = ("reporting.adult_age_band_from", "reporting.older_age_band_from")
WEEKS_A_YEAR = "reporting.weeks_a_year"
IN_AREA = ("not known", "no", "yes")  # the in_area codes -1, 0, 1, each plus one


def age_bands(at: AtKpiDate) -> list[int]:
    """The first age of each band in force at the KPI date, in order (a band runs to the year before the next)."""
    found = [at.param(name) for name in AGE_BANDS_FROM]
    return sorted({int(col.v[0]) for col in found if col.ok[0]})


def band_labels(bands: list[int]) -> list[str]:
    """``under 18`` (for the code -1), ``18-64``, ``65+``."""
    labels = [f"{low}-{high - 1}" for low, high in zip(bands, bands[1:])] + [f"{bands[-1]}+"] if bands else []
    return [f"under {bands[0]}" if bands else "all ages", *labels]


def _settings(care_type: Col, service: np.ndarray) -> np.ndarray:
    """The setting of each row as a code: its care type where it has one, else its service after the care types."""
    kinds = len(ENUMS["care_type"])
    codes: np.ndarray = np.where(care_type.ok, care_type.v, kinds + service).astype(np.int64)
    return codes


def _setting_label(code: int) -> str:
    kinds = ENUMS["care_type"]
    return kinds[code] if code < len(kinds) else ENUMS["service"][code - len(kinds)]


def activity_tables(views: AuditViews, start: date, end: date, at: AtKpiDate) -> dict[str, Any]:
    """The ``activity`` block of kpis.json: admissions from ``start`` to ``end`` (the KPI period), people at the
    KPI date ``at``."""
    parsed = views.parsed
    service = np.asarray(parsed.cols["service"].v, np.int64)
    bands = age_bands(at)
    band = np.searchsorted(np.array(bands, np.int64), parsed.cols["age"].v, side="right").astype(np.int64)
    area = (views.in_area.astype(np.int64) if views.in_area is not None else np.full(parsed.n, -1, np.int64)) + 1
    starts = parsed.cols["start_date"].v
    admitted = parsed.valid & (starts >= day_number(start)) & (starts <= day_number(end))
    if views.permanent is not None:
        admitted &= np.asarray(views.permanent, bool)
    active = np.asarray(at.active, bool)
    sizes = (len(ENUMS["care_type"]) + len(ENUMS["service"]), len(bands) + 1, len(IN_AREA))

    def keys(setting: np.ndarray) -> np.ndarray:
        keyed: np.ndarray = ((service * sizes[0] + setting) * sizes[1] + band) * sizes[2] + area
        return keyed

    people = keys(_settings(at.values["care_type"], service))[active]
    admissions = keys(_settings(views.at_start()["care_type"], service))[admitted]
    cells = len(ENUMS["service"]) * sizes[0] * sizes[1] * sizes[2]
    counted = {
        "people_at_kpi_date": np.bincount(people, minlength=cells),
        "new_permanent_admissions": np.bincount(admissions, minlength=cells),
    }
    labels = band_labels(bands)
    weeks = at.param(WEEKS_A_YEAR)
    per_year = int(weeks.v[0]) if weeks.ok[0] else None
    table = []
    for key in np.flatnonzero(counted["people_at_kpi_date"] + counted["new_permanent_admissions"]).tolist():
        rest, in_area = divmod(key, sizes[2])
        rest, age = divmod(rest, sizes[1])
        code, setting = divmod(rest, sizes[0])
        table.append(
            {
                "service": ENUMS["service"][code],
                "setting": _setting_label(setting),
                "age_band": labels[age],
                "in_area": IN_AREA[in_area],
                **{name: int(found[key]) for name, found in counted.items()},
            }
        )
    return {
        "kpi_date": at.day,
        "period_start": start,
        "period_end": end,
        "age_bands": labels[1:],
        "in_area": "from the provider register" if views.in_area is not None else "not known: no provider register",
        "admissions": (
            "permanent stays starting in the period"
            if views.permanent is not None
            else "every service starting in the period (no stay type recorded)"
        ),
        "people_and_admissions": table,
        "totals": {"people_at_kpi_date": int(active.sum()), "new_permanent_admissions": int(admitted.sum())},
        "weeks_a_year": per_year,
        "cost_by_service": _cost_by_service(at, service, active, per_year),
    }


def _cost_by_service(
    at: AtKpiDate, service: np.ndarray, active: np.ndarray, per_year: int | None
) -> list[dict[str, Any]]:
    """The gross and council-net weekly cost of the services active at the KPI date, each as it stands then, and
    a year of it; a council net not known (no financial assessment recorded, or not computed) is counted apart."""
    gross, net = at.values["gross_weekly_cost"], at.values["council_net_weekly"]
    netted = assessed_rows(at)[1] & net.ok  # as the KPI "council net cost a week" counts them
    rows = []
    for code, name in enumerate(ENUMS["service"]):
        of = active & (service == code)
        if not of.any():
            continue
        gross_pence = int(gross.v[of & gross.ok].sum())
        net_pence = int(net.v[of & netted].sum())
        rows.append(
            {
                "service": name,
                "people_at_kpi_date": int(of.sum()),
                "gross_weekly": gbp(gross_pence),
                "gross_annual": gbp(None if per_year is None else gross_pence * per_year),
                "council_net_weekly": gbp(net_pence),
                "council_net_annual": gbp(None if per_year is None else net_pence * per_year),
                "council_net_not_known": int((of & ~netted).sum()),
            }
        )
    return rows
