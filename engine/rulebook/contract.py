"""The load-time contract: every name in ``rules/`` that Python reads by name, declared once here and checked
when the rulebook loads.

The engine, the audit and the API look some of the rulebook's names up directly (a KPI's wording, a figure in a
list or on the page, a parameter for the sample book, an approver role, a referral destination). A rulebook that
lacked one would load and then fail with a ``KeyError`` at run time, or silently leave something out; instead it
is refused at load with the file, the line and the name (``carerules`` exits 3).

``tests/test_rulebook_contract.py`` reads every string in ``engine/`` and ``api/`` and checks that these lists are
exactly the rulebook names the code mentions: a name the code starts to read must be added here, and a name it
no longer reads must be taken out.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.language.vocabulary import ENUMS
from engine.rulebook.strict_yaml import Node, RulebookError, load_yaml

if TYPE_CHECKING:
    from engine.rulebook.book import Rulebook
    from engine.rulebook.contents import Contents

# rules/figures.yaml: figures the audit's lists, KPIs, results and changes, the decision's explanation, the CLI's
# summary and the web page read by name (the page's labels are the figures' own: label in figures.yaml)
FIGURES = (
    "after_care_free",
    "assessable_income_weekly",
    "benchmark_weekly",
    "capital_counted",
    "care_cubed_weekly",
    "care_type",
    "chargeable_cost_weekly",
    "comparable_weekly",
    "contribution_computed",
    "contribution_to_council_weekly",
    "contribution_to_provider_weekly",
    "council_arranged_weekly",
    "council_net_weekly",
    "council_to_provider_weekly",
    "deferred_weekly",
    "expected_nhs_share_weekly",
    "financial_assessment",
    "fnc_used_weekly",
    "gross_weekly_cost",
    "is_care_home",
    "is_supported_living",
    "isp_nhs_contribution_weekly",
    "lot",
    "nhs_contribution_or_zero_weekly",
    "nhs_contribution_recorded",
    "over_benchmark_percent",
    "over_benchmark_weekly",
    "over_care_cubed_percent",
    "over_care_cubed_weekly",
    "payment_model",
    "personal_budget_weekly",
    "resident_contribution_weekly",
    "s117_council_funding_weekly",
    "self_funding",
    "sl_over_reference_weekly",
    "sl_reference_weekly",
    "sourced_within_timescale",
    "sourcing_recorded",
    "sourcing_target_days",
    "tariff_income_weekly",
    "top_up_required_weekly",
    "top_up_to_council_weekly",
    "top_up_to_provider_weekly",
    "working_age_pricing",
)

# rules/kpis.yaml: the KPIs the audit computes by id (the others are generic: share_of_active, ages)
KPIS = (
    "below_median_share",
    "block_beds_occupied",
    "care_home_sourced_in_time",
    "client_income_weekly",
    "council_net_cost_weekly",
    "cqc_nursing_good_share",
    "cqc_residential_good_share",
    "cqc_sl_good_share",
    "deferred_weekly",
    "isp_no_nhs_contribution",
    "mean_price_all_active",
    "nhs_weekly_income",
    "s117_council_run_rate",
    "s117_council_share",
    "s117_reviewed",
    "sl_affordable_accommodation",
    "sl_appropriately_contracted",
    "sl_service_reviews_completed",
    "sl_sourced_in_time",
    "sl_tenancy_agreement",
    "sl_weekly_run_rate",
    "sl_within_reference_share",
)

# rules/parameters/: parameters the audit, the sample book and the price guide read by name (reporting.*: only the
# audit's reports read them, no rule or figure)
PARAMETERS = (
    "care_homes.approval_bands",
    "care_homes.fnc_standard_weekly",
    "care_homes.minimum_age",
    "isp.gross_cost_threshold_weekly",
    "reporting.adult_age_band_from",
    "reporting.older_age_band_from",
    "reporting.small_number_below",
    "reporting.weeks_a_year",
    "supported_living.day_hour_rate",
    "supported_living.sleep_in_night_rate",
    "supported_living.waking_night_hour_rate",
    "working_age.approval_bands",
)
# (and each care category's benchmark parameter, named in rules/tables/care_categories.yaml and checked there)

# rules/tables/care_categories.yaml: the fields every care category's derivation must fix (a conjunct
# ``care_type == "…"``): a placement giving only its category gets its care type, and the fee review and the
# sample book group categories by care type
CATEGORY_FIELDS = ("care_type",)

# rules/modules/: rules the audit's NHS recharge list reads by id
RULES = ("ISP-05", "ISP-06", "ISP-07", "ISP-08")

# rules/rulebook.yaml notes: wording the decision's explanation reads by name
NOTES = ("care_cubed_required",)

# rules/tables/first_party_bases.yaml: every basis the placement's first_party_basis field accepts
# (engine/validate/field_groups/choice.py)
FIRST_PARTY_BASES = ENUMS["first_party_basis"]

# rules/wording.yaml: the codes of a decision's payment lines (engine/explain/payments.py) and of the top-up's
# payer (the placement's top_up_payer, but none) whose words the page shows. The approver roles and referral
# destinations are not here: no Python names one, the API and the page read whichever the rulebook declares.
PAYERS = ("council", "resident", "third_party", "nhs")
PAYEES = ("provider", "council")
TOP_UP_PAYERS = tuple(payer for payer in ENUMS["top_up_payer"] if payer != "none")
WORDING = {"payers": PAYERS, "payees": PAYEES, "top_up_payers": TOP_UP_PAYERS}


# rules/services.yaml: the services whose own cost fields and form sections the code knows (every other service
# is priced by its weekly_cost, SPEC §16.1)
SERVICES = ("care_home", "supported_living", "home_care")


@dataclass(frozen=True)
class Missing:
    kind: str  # figure, KPI, parameter, rule, note, first-party basis, care category field, payers, payees…
    name: str
    expected: str  # where rules/ should declare it


def missing(book: Rulebook, contents: Contents) -> list[Missing]:
    """Every name of the contract that the rulebook does not declare, in the order of the lists above."""
    unfixed = {
        f"{name} (care category {category.id} does not fix it)"
        for category in book.categories.items
        for name in CATEGORY_FIELDS
        if category.fixed(name) is None
    }
    kinds: list[tuple[str, str, tuple[str, ...] | list[str], Collection[str]]] = [
        ("figure", "figures.yaml", FIGURES, book.figures),
        ("KPI", "kpis.yaml", KPIS, book.kpis),
        ("parameter", "", PARAMETERS, book.parameters),
        ("rule", "modules", RULES, {rule.id for rule in book.rules}),
        ("note", "rulebook.yaml", NOTES, book.notes),
        ("first-party basis", "tables/first_party_bases.yaml", FIRST_PARTY_BASES, book.first_party_bases),
        ("care category field", "tables/care_categories.yaml", sorted(unfixed), ()),
        *((group, "wording.yaml", codes, getattr(book.wording, group)) for group, codes in WORDING.items()),
        ("service", "services.yaml", SERVICES, {service.id for service in book.services}),
    ]
    return [
        Missing(kind, name, expected or _parameter_file(name))
        for kind, expected, names, declared in kinds
        for name in names
        if name not in declared
    ]


def _parameter_file(name: str) -> str:
    return (Path("parameters") / Path(*name.split("."))).with_suffix(".yaml").as_posix()


# where in each file the missing name belongs: the key whose line the refusal names
_KEY = {
    "figures.yaml": "figures",
    "kpis.yaml": "kpis",
    "rulebook.yaml": "notes",
    "tables/first_party_bases.yaml": "bases",
    "tables/care_categories.yaml": "categories",
    "services.yaml": "services",
}
_CONTENTS_KEY = {"rule": "modules"}


def check(root: Path, book: Rulebook, contents: Contents) -> None:
    """Refuse a rulebook that lacks a name the code reads (the file and line where it belongs, and the name), or
    words a payment code the code does not know (its line)."""
    _check_wording_codes(book)
    for gap in missing(book, contents):
        reason = (
            f"{gap.kind} {gap.name} is missing: the engine reads it by name (engine/rulebook/contract.py), so the "
            f"rulebook must declare it"
        )
        if gap.kind in _CONTENTS_KEY:
            raise contents.error(
                f"{reason} ({'in a module file and here' if gap.kind == 'rule' else 'here'})", _CONTENTS_KEY[gap.kind]
            )
        if gap.kind == "parameter":
            index = _nearest_index(root, root / gap.expected)
            raise RulebookError(index, 1, f"{reason} (as {gap.expected})")
        if gap.expected == "wording.yaml":
            raise _wording_node(book).error(
                f"{gap.kind}: the words for {gap.name} are missing: the engine uses this code "
                "(engine/rulebook/contract.py), so the rulebook must word it (here)", gap.kind
            )  # fmt: skip
        node: Node = load_yaml(root / gap.expected)
        raise node.error(f"{reason} (in {gap.expected})", _KEY[gap.expected])


def _wording_node(book: Rulebook) -> Node:
    node = book.wording.node
    assert node is not None, "a loaded rulebook keeps wording.yaml's node"
    return node


def _check_wording_codes(book: Rulebook) -> None:
    """Every code wording.yaml words is one the engine uses: a misspelt code would leave the right one unworded."""
    for group, codes in WORDING.items():
        for code in getattr(book.wording, group):
            if code not in codes:
                entries = _wording_node(book)[group]
                raise entries.error(
                    f"{group}: {code} is not a code the engine uses (it uses {', '.join(codes)}; "
                    "engine/rulebook/contract.py)", code
                )  # fmt: skip


def _nearest_index(root: Path, path: Path) -> Path:
    """The index.yaml of the parameter group a missing parameter file belongs to (or of the nearest group above)."""
    folder = path.parent
    while folder != root and not (folder / "index.yaml").is_file():
        folder = folder.parent
    return folder / "index.yaml" if (folder / "index.yaml").is_file() else root / "parameters"
