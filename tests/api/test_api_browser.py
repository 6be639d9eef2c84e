"""A broker opens the page in headless Chromium, enters a placement and reads the decision, approver and
citations. Debian chromium + chromium-driver; no browser download; traffic to loopback only."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from api.bench.loadgen import local_server

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,2000",
    "--lang=en-GB",
]


@pytest.fixture
def browser(chromium):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    with tempfile.TemporaryDirectory(prefix="carerules-chromium-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
        driver.set_page_load_timeout(30)
        driver.implicitly_wait(15)  # a submitted form navigates; look-ups wait for the new page
        try:
            yield driver
        finally:
            driver.quit()


@pytest.fixture
def server(tmp_path: Path):
    with local_server(f"sqlite:///{tmp_path / 'decisions.db'}") as base:
        yield base


def set_date(driver, field_id: str, iso: str) -> None:
    # A date input's typed format follows the browser's locale; set the ISO value as a date picker would.
    driver.execute_script("document.getElementById(arguments[0]).value = arguments[1];", field_id, iso)


def test_broker_checks_a_care_home_placement_and_reads_outcome_approver_and_citations(browser, server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(server + "/")
    assert "Check a proposed placement" in browser.find_element(By.TAG_NAME, "h1").text
    # Every visible form control has a label a screen reader can announce.
    for control in browser.find_elements(By.CSS_SELECTOR, "input:not([type=radio]):not([type=hidden]), select"):
        assert browser.find_elements(By.CSS_SELECTOR, f"label[for='{control.get_attribute('id')}']"), (
            control.get_attribute("id")
        )

    browser.find_element(By.ID, "placement_id").send_keys("WEB-1")
    browser.find_element(By.ID, "service-care_home").click()
    set_date(browser, "start_date", "2026-05-04")
    browser.find_element(By.ID, "age").send_keys("84")
    Select(browser.find_element(By.ID, "care_type")).select_by_value("nursing")
    browser.find_element(By.ID, "core_weekly_fee").send_keys("1100.00")
    browser.find_element(By.ID, "check").click()

    outcome = browser.find_element(By.CSS_SELECTOR, "[data-outcome]")
    assert outcome.get_attribute("data-outcome") == "needs_approval"
    assert outcome.text == "Needs approval"
    # £1,100.00 against the Lot 6 median £995.00 is 10.55% over: the middle band's approver.
    approver = browser.find_element(By.ID, "approver").text
    assert "Head of service" in approver and "CHP-03" in approver
    findings = browser.find_elements(By.CSS_SELECTOR, ".finding")
    assert any("CHP-03" in item.text and "Care Cubed" in item.text for item in findings)
    citations = [item.text for item in browser.find_elements(By.CSS_SELECTOR, ".finding cite")]
    assert len(citations) == len(findings) and all(citations)
    assert browser.find_element(By.CSS_SELECTOR, "[data-figure=benchmark_weekly]").text == "£995.00"
    # no users set up, served on loopback: one local user, and the page says so
    assert "by local" in browser.find_element(By.CSS_SELECTOR, ".meta").text
    assert "Local single-user mode" in browser.find_element(By.ID, "local-mode").text
    browser.save_screenshot(str(tmp_path / "decision.png"))

    browser.find_element(By.LINK_TEXT, "Recent decisions").click()
    assert "WEB-1" in browser.find_element(By.TAG_NAME, "table").text


def test_broker_sees_field_messages_for_bad_input(browser, server):
    from selenium.webdriver.common.by import By

    browser.get(server + "/")
    browser.find_element(By.ID, "placement_id").send_keys("WEB-2")
    browser.find_element(By.ID, "service-supported_living").click()
    set_date(browser, "start_date", "2026-05-04")
    browser.find_element(By.ID, "age").send_keys("34")
    browser.find_element(By.ID, "sl_weekly_cost").send_keys("12.345")
    browser.find_element(By.ID, "check").click()
    summary = browser.find_element(By.CSS_SELECTOR, ".error-summary")
    assert "Proposed weekly cost: must have at most 2 decimal places" in summary.text
    assert browser.find_element(By.ID, "sl_weekly_cost").get_attribute("aria-invalid") == "true"
    assert browser.find_element(By.ID, "placement_id").get_attribute("value") == "WEB-2"  # input kept


def test_rules_page_lists_rules_and_parameters_in_force_at_a_date(browser, server):
    from selenium.webdriver.common.by import By

    browser.get(server + "/rules?as_at=2025-06-01")
    text = browser.find_element(By.TAG_NAME, "main").text
    assert "Parameters in force at 2025-06-01" in text
    assert "CHP-01" in text and "SL-03" in text
    row = browser.find_element(By.XPATH, "//tr[th/code[text()='care_homes.benchmark.lot_6']]").text
    assert "945.00" in row and "2025-04-01" in row


@pytest.fixture
def office(tmp_path: Path):
    """A server with users (so no local mode): a broker, a head of service and a team manager, with their tokens."""
    from api.auth.identity import new_token
    from api.store.decision_log import DecisionLog
    from api.store.workflow import WorkflowStore, now_utc

    url = f"sqlite:///{tmp_path / 'office.db'}"
    log = DecisionLog(url)
    log.upgrade()
    tokens = {}
    for name, role in (("Ann Broker", "broker"), ("Hana Head", "head_of_service"), ("Tim Manager", "team_manager")):
        token, key, hashed = new_token()
        WorkflowStore(log.engine).add_user(name, [role], key, hashed, now_utc())
        tokens[name] = token
    log.dispose()
    with local_server(url) as base:
        yield base, tokens


def replaced(element):
    """A wait's condition: ``element`` is no longer in the page (a new page has replaced it). As selenium's
    ``staleness_of``, and also when chromium, asked about the node while the new document comes in, answers that the
    node "does not belong to the document" (not a StaleElementReferenceException, but the same fact)."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    def gone(_driver) -> bool:
        try:
            element.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False

    return gone


def sign_in(driver, base: str, name: str, token: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(base + "/signin")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "signin").click()
    assert name in driver.find_element(By.ID, "signed-in").text


def sign_out(driver) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, ".who button").click()
    driver.find_element(By.ID, "signin")


def test_journey_broker_checks_lot_7_head_of_service_approves_broker_sees_it(browser, office, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    base, tokens = office
    browser.get(base + "/")
    assert browser.find_element(By.ID, "signin")  # anonymous: the sign-in form, nothing else
    sign_in(browser, base, "Ann Broker", tokens["Ann Broker"])
    browser.find_element(By.ID, "placement_id").send_keys("LOT7-1")
    browser.find_element(By.ID, "service-care_home").click()
    browser.find_element(By.ID, "start_date").send_keys("04/05/2026")  # day first, whatever the browser's locale
    assert browser.find_element(By.ID, "start_date-words").text == "4 May 2026"
    browser.find_element(By.ID, "age").send_keys("86")
    Select(browser.find_element(By.ID, "care_type")).select_by_value("nursing")
    browser.find_element(By.ID, "dementia").click()
    browser.find_element(By.ID, "core_weekly_fee").send_keys("1140.00")
    browser.find_element(By.ID, "check").click()

    assert browser.find_element(By.CSS_SELECTOR, "[data-outcome]").get_attribute("data-outcome") == "needs_approval"
    guide = browser.find_element(By.ID, "price-guide").text
    assert "What can I offer the provider?" in guide
    assert "up to £1,045.00" in guide and "no approval needed" in guide
    assert "up to £1,097.25" in guide and "up to £1,201.75" in guide
    assert "this price" in browser.find_element(By.CSS_SELECTOR, ".this-price").text  # £1,140: head of service
    assert "Head of service" in browser.find_element(By.CSS_SELECTOR, ".this-price").text
    assert browser.find_element(By.ID, "approval-status").get_attribute("data-status") == "checked"
    before = browser.find_element(By.ID, "approval-status")
    browser.find_element(By.ID, "request-approval").click()
    WebDriverWait(browser, 15).until(replaced(before))
    assert browser.find_element(By.ID, "approval-status").get_attribute("data-status") == "pending"
    assert not browser.find_elements(By.ID, "record-approval")  # a broker cannot approve it
    decision_url = browser.current_url
    sign_out(browser)

    sign_in(browser, base, "Hana Head", tokens["Hana Head"])
    browser.get(decision_url)
    browser.find_element(By.ID, "decision-approve").click()
    browser.find_element(By.ID, "reason").send_keys("Care Cubed costing supports £1,140.00 for this home")
    before = browser.find_element(By.ID, "approval-status")
    browser.find_element(By.ID, "record-approval").click()
    WebDriverWait(browser, 15).until(replaced(before))  # the page after the post, not the one before
    assert browser.find_element(By.ID, "approval-status").get_attribute("data-status") == "approved"
    sign_out(browser)

    sign_in(browser, base, "Ann Broker", tokens["Ann Broker"])
    browser.get(decision_url)
    assert browser.find_element(By.ID, "approval-status").text == "Approved"
    record = browser.find_element(By.ID, "approval-record").text
    assert "Approved by Hana Head (Head of service)" in record
    assert browser.find_element(By.ID, "approval-reason").text == "Care Cubed costing supports £1,140.00 for this home"
    browser.save_screenshot(str(tmp_path / "approved.png"))


def check_price(driver, placement_id: str, fee: str) -> str:
    """The form filled in for a Lot 6 nursing placement at ``fee`` a week and checked: the decision's address."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.find_element(By.LINK_TEXT, "Check a placement").click()
    driver.find_element(By.ID, "placement_id").send_keys(placement_id)
    driver.find_element(By.ID, "service-care_home").click()
    driver.find_element(By.ID, "start_date").send_keys("04/05/2026")
    driver.find_element(By.ID, "age").send_keys("84")
    Select(driver.find_element(By.ID, "care_type")).select_by_value("nursing")
    driver.find_element(By.ID, "core_weekly_fee").send_keys(fee)
    driver.find_element(By.ID, "check").click()
    assert driver.find_element(By.CSS_SELECTOR, "[data-outcome]").get_attribute("data-outcome") == "needs_approval"
    return str(driver.current_url)


def test_journey_trying_prices_asking_waiting_for_me_four_eyes_and_approved(browser, office, tmp_path):
    """SPEC §14.2: a broker tries three prices (none pending) and asks approval of the last; a team manager finds
    it waiting for them, cannot approve a decision of their own, approves the broker's; the broker reads that they
    may agree the placement at that price."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, tokens = office

    def click_and_wait(element_id: str) -> None:
        before = browser.find_element(By.TAG_NAME, "main")
        browser.find_element(By.ID, element_id).click()
        WebDriverWait(browser, 15).until(replaced(before))

    sign_in(browser, base, "Tim Manager", tokens["Tim Manager"])
    own_url = check_price(browser, "TM-OWN", "1030.00")  # the manager's own price, in their own band
    click_and_wait("request-approval")
    assert browser.find_element(By.ID, "approval-status").get_attribute("data-status") == "pending"
    sign_out(browser)

    sign_in(browser, base, "Ann Broker", tokens["Ann Broker"])
    tried = [check_price(browser, "TRY-1", fee) for fee in ("1000.00", "1020.00", "1040.00")]
    browser.find_element(By.LINK_TEXT, "Recent decisions").click()
    for url in tried:
        number = url.rsplit("/", 1)[1]
        cell = browser.find_element(By.CSS_SELECTOR, f"tr[data-decision='{number}'] td[data-status]")
        assert (cell.get_attribute("data-status"), cell.text) == ("checked", "Not asked for")
    browser.get(tried[-1])
    banner = browser.find_element(By.ID, "next-step").text
    assert "£1,040.00 a week needs approval by Team manager" in banner and "Nobody has asked for it yet" in banner
    click_and_wait("request-approval")
    assert browser.find_element(By.ID, "approval-status").get_attribute("data-status") == "pending"
    assert "Waiting for approval by Team manager" in browser.find_element(By.ID, "next-step").text
    sign_out(browser)

    sign_in(browser, base, "Tim Manager", tokens["Tim Manager"])
    browser.find_element(By.ID, "nav-waiting").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "Waiting for me"
    waiting = [
        row.get_attribute("data-decision") for row in browser.find_elements(By.CSS_SELECTOR, "tr[data-decision]")
    ]
    assert waiting == [tried[-1].rsplit("/", 1)[1]]  # not the two prices only tried, not the manager's own
    browser.get(own_url)
    assert not browser.find_elements(By.ID, "record-approval")
    assert "someone else must approve or decline it" in browser.find_element(By.ID, "four-eyes").text
    browser.find_element(By.LINK_TEXT, "Waiting for me").click()
    browser.find_element(By.CSS_SELECTOR, f"tr[data-decision='{waiting[0]}'] a").click()
    browser.find_element(By.ID, "decision-approve").click()
    click_and_wait("record-approval")  # no reason given: refused, the choice kept
    assert "Give the reason" in browser.find_element(By.ID, "approval-problem").text
    assert browser.find_element(By.ID, "decision-approve").is_selected()
    browser.find_element(By.ID, "reason").send_keys("Within the team manager's band; home chosen by the family")
    click_and_wait("record-approval")
    assert browser.find_element(By.ID, "approval-status").get_attribute("data-status") == "approved"
    sign_out(browser)

    sign_in(browser, base, "Ann Broker", tokens["Ann Broker"])
    browser.get(tried[-1])
    banner = browser.find_element(By.ID, "next-step").text
    assert banner.startswith("Approved by Tim Manager (Team manager) on ")
    assert banner.endswith(": you may agree the placement at £1,040.00 a week.")
    assert "until it is approved" not in browser.find_element(By.ID, "main").text
    browser.save_screenshot(str(tmp_path / "approved-price.png"))


def test_api_docs_render_every_operation(browser, server):
    """Swagger UI reads the OpenAPI 3.1 document and lists every operation (not only that its files load)."""
    import json
    import urllib.request

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with urllib.request.urlopen(server + "/openapi.json", timeout=10) as response:
        document = json.load(response)
    assert document["openapi"].startswith("3.1")
    operations = [(method.upper(), path) for path, ops in document["paths"].items() for method in ops]
    assert len(operations) >= 10
    browser.get(server + "/docs")
    WebDriverWait(browser, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= len(operations))
    shown = {
        (
            block.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text,
            block.find_element(By.CSS_SELECTOR, ".opblock-summary-path").get_attribute("data-path"),
        )
        for block in browser.find_elements(By.CSS_SELECTOR, ".opblock")
    }
    assert set(operations) <= shown, set(operations) - shown
    assert "Unable to render" not in browser.find_element(By.TAG_NAME, "body").text
    # an operation opens with its documented answers and request example
    approvals = browser.find_element(
        By.ID, "operations-decisions-create_approval_v1_decisions__decision_id__approvals_post"
    )
    approvals.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    text = approvals.text
    for status in ("201", "401", "403", "409", "413", "422", "503"):
        assert status in text, status
    assert "approve" in text and "reason" in text


def test_the_form_shows_one_services_sections_echoes_dates_and_keeps_the_button_in_view(browser, server):
    from selenium.webdriver.common.by import By

    browser.set_window_size(1280, 800)
    browser.get(server + "/")

    def in_view(element_id: str) -> bool:
        script = "var r = document.getElementById(arguments[0]).getBoundingClientRect();"
        script += "return r.top >= 0 && r.bottom <= window.innerHeight;"
        return bool(browser.execute_script(script, element_id))

    def section_shown(key: str) -> bool:
        return browser.find_element(By.CSS_SELECTOR, f"fieldset[data-section={key}]").is_displayed()

    assert in_view("check")  # at the top of a long form the button is already on screen
    assert section_shown("care_home") and section_shown("top_up") and not section_shown("supported_living")
    browser.find_element(By.ID, "service-supported_living").click()
    assert section_shown("supported_living") and not section_shown("care_home") and not section_shown("top_up")
    assert section_shown("health") and section_shown("placement")
    date = browser.find_element(By.ID, "start_date")
    date.send_keys("11/05/2026")
    assert browser.find_element(By.ID, "start_date-words").text == "11 May 2026"
    date.clear()
    date.send_keys("31/02/2026")
    assert "not a real date" in browser.find_element(By.ID, "start_date-words").text
    browser.execute_script("window.scrollTo(0, document.body.scrollHeight / 2)")
    assert in_view("check")
