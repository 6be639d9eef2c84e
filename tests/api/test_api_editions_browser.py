"""The Rates page's whole journey in headless Chromium (SPEC §18): a policy officer uploads a rates file and sees
the draft, and cannot publish it; a head of service publishes it; the brokers' page and a new decision then name
the new edition. Debian chromium + chromium-driver, traffic to loopback only."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.bench.loadgen import served
from tests.api.test_api_browser import browser, sign_in, sign_out  # noqa: F401 (the fixture)
from tests.api.test_api_editions import MEDIAN, rates_csv
from tests.conftest import copy_rules

__all__ = ["browser"]


def attribute_of(browser, element_id: str, name: str) -> str:
    """An element's attribute read once the page holding it has settled: a look-up right after a navigation can
    find the element of the page being replaced (StaleElementReferenceException on reading it), so the look-up is
    made again until the read succeeds (15 s at most; the value itself is asserted by the caller)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 15, ignored_exceptions=(StaleElementReferenceException,))
    return wait.until(lambda driver: driver.find_element(By.ID, element_id).get_attribute(name) or "")


def submit(browser, button_id: str) -> None:
    """Click a form's submit button and wait (15 s at most) until the page it was on is gone: what is read next is
    the page the form's answer led to, never the one it left (its status still "draft" a moment after the click)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.ID, button_id).click()
    WebDriverWait(browser, 15).until(expected_conditions.staleness_of(page))


@pytest.fixture
def council(tmp_path: Path):
    from api.auth.identity import new_token
    from api.store.decision_log import DecisionLog
    from api.store.workflow import WorkflowStore, now_utc

    rules = copy_rules(tmp_path / "rules")
    url = f"sqlite:///{tmp_path / 'council.db'}"
    log = DecisionLog(url)
    log.upgrade()
    tokens = {}
    for name, roles in (("Pat Policy", ["policy_officer"]), ("Hana Head", ["head_of_service", "broker"])):
        token, key, hashed = new_token()
        WorkflowStore(log.engine).add_user(name, roles, key, hashed, now_utc())
        tokens[name] = token
    log.dispose()
    with served(url, extra_env={"CARERULES_RULES_DIR": str(rules)}) as (base, _pid):
        yield base, tokens, rules


def test_policy_officer_drafts_rates_head_of_service_publishes_brokers_see_the_edition(browser, council, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    base, tokens, rules = council
    rates = tmp_path / "rates.csv"
    rates.write_bytes(rates_csv(rules))
    sign_in(browser, base, "Pat Policy", tokens["Pat Policy"])
    browser.find_element(By.ID, "nav-rates").click()
    old_version = browser.find_element(By.ID, "in-force").text
    browser.find_element(By.ID, "file").send_keys(str(rates))
    browser.find_element(By.ID, "why").send_keys("LaingBuisson medians, Cabinet 12 March 2026")
    browser.find_element(By.ID, "replace").click()
    submit(browser, "upload-rates")

    assert browser.find_element(By.ID, "edition-status").get_attribute("data-status") == "draft"
    row = browser.find_element(By.CSS_SELECTOR, f"#changes tr[data-parameter='{MEDIAN}']").text
    assert row.count("£") == 2  # was and now
    assert "No audit" in browser.find_element(By.ID, "effect-message").text
    assert not browser.find_elements(By.ID, "publish")  # a policy officer cannot publish, least of all their own
    new_version = browser.find_element(By.ID, "edition-version").text
    assert new_version != old_version
    draft_url = browser.current_url
    sign_out(browser)

    sign_in(browser, base, "Hana Head", tokens["Hana Head"])
    browser.get(draft_url)
    submit(browser, "publish")
    assert attribute_of(browser, "edition-status", "data-status") == "published"
    assert "Hana Head" in browser.find_element(By.ID, "edition-decided").text
    browser.save_screenshot(str(tmp_path / "published.png"))

    browser.get(base + "/")  # the brokers' page serves the new edition (the footer names it)
    assert attribute_of(browser, "edition", "data-version") == new_version
    browser.find_element(By.ID, "placement_id").send_keys("RATES-1")
    browser.find_element(By.ID, "service-care_home").click()
    browser.find_element(By.ID, "start_date").send_keys("04/05/2026")
    browser.find_element(By.ID, "age").send_keys("86")
    Select(browser.find_element(By.ID, "care_type")).select_by_value("residential")
    browser.find_element(By.ID, "core_weekly_fee").send_keys("960.00")
    browser.find_element(By.ID, "check").click()
    assert browser.find_element(By.CSS_SELECTOR, "[data-outcome]")
    assert attribute_of(browser, "edition", "data-version") == new_version
    assert new_version in browser.find_element(By.CSS_SELECTOR, ".meta").text
