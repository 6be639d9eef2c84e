"""A finance officer uploads a book with its provider register on the Audit tab in headless Chromium, reads the
CQC KPI and the embargo list, and downloads results.xlsx with the list's sheet (SPEC §17)."""

from __future__ import annotations

from pathlib import Path

import httpx
from python_calamine import CalamineWorkbook
from test_api_browser import browser, server  # noqa: F401  (fixtures)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BOOK = (
    "Placement ID,Service,Age,Care Type,Start Date,Core Weekly Fee,Provider ID\n"
    "EMB-1,care_home,82,residential,01/07/2026,900.00,PRV-002\n"
    "OK-2,care_home,82,residential,01/07/2026,900.00,PRV-001\n"
)


def test_finance_officer_audits_with_the_provider_register(browser, server, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    book = tmp_path / "book.csv"
    book.write_text(BOOK, encoding="utf-8")
    browser.get(server + "/")
    browser.find_element(By.LINK_TEXT, "Audit").click()
    browser.find_element(By.ID, "book").send_keys(str(book))
    browser.find_element(By.ID, "providers").send_keys(str(EXAMPLES / "providers.csv"))
    browser.execute_script("document.getElementById('as_at').value = '2026-07-31';")
    browser.find_element(By.ID, "run-audit").click()

    WebDriverWait(browser, 60).until(lambda d: d.find_element(By.ID, "audit-results").is_displayed())
    cqc = browser.find_element(By.CSS_SELECTOR, "#kpi-table tr[data-kpi=cqc_nursing_good_share]")
    assert "Nursing homes rated Outstanding or Good" in cqc.text and "%" in cqc.text
    beds = browser.find_element(By.CSS_SELECTOR, "#kpi-table tr[data-kpi=block_beds_occupied]")
    assert "not available: needs the block-bed file" in beds.text
    embargo = browser.find_element(By.ID, "list-embargo_or_enquiry")
    listed = [row.get_attribute("data-placement") for row in embargo.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert listed == ["EMB-1"] and "PRV-03" in embargo.text and "PRV-002" in embargo.text

    link = browser.find_element(By.ID, "download-results-xlsx").get_attribute("href")
    download = tmp_path / "results.xlsx"
    download.write_bytes(httpx.get(link, timeout=30).raise_for_status().content)
    workbook = CalamineWorkbook.from_path(str(download))
    rows = workbook.get_sheet_by_name("embargo_or_enquiry").to_python()
    assert [r[rows[0].index("placement_id")] for r in rows[1:]] == ["EMB-1"]
    kpis = workbook.get_sheet_by_name("KPIs").to_python()
    assert any("Nursing homes rated Outstanding or Good" in str(cell) for row in kpis for cell in row)
