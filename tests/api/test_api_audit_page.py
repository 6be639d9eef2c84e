"""A finance officer opens the Audit tab in headless Chromium, uploads a council export (Title Case headers,
Windows-1252 "CSV (Comma delimited)"), reads the KPI table and the ISP list, and downloads results.xlsx."""

from __future__ import annotations

import csv
from pathlib import Path

import httpx
from python_calamine import CalamineWorkbook
from test_api_browser import browser, server  # noqa: F401  (fixtures)

NURSING = {"Service": "care_home", "Age": "82", "Care Type": "nursing", "Fnc Weekly": "267.68"}
BOOK = [
    {"Placement ID": "A-1", **NURSING, "Start Date": "2026-05-04", "Core Weekly Fee": "990.00"},
    {"Placement ID": "B-2", **NURSING, "Start Date": "2026-02-01", "Core Weekly Fee": "2900.00",
     "One To One Weekly": "400.00"},
    {"Placement ID": "C-3", **NURSING, "Start Date": "2026-07-01", "Core Weekly Fee": "2800.00",
     "One To One Weekly": "300.00", "Nhs Contribution Weekly": "150.00"},
    {"Placement ID": "D-4", **NURSING, "Start Date": "2026-07-01", "Core Weekly Fee": "-5"},
    # working age, priced against its CareCubed costing: £840.00 is £40.00 (5.00%) over £800.00 (WAP-02)
    {"Placement ID": "E-5", "Service": "care_home", "Age": "40", "Care Type": "residential",
     "Start Date": "2026-07-01", "Core Weekly Fee": "840.00", "Care Cubed Weekly": "800.00"},
]  # fmt: skip


def write_cp1252(path: Path) -> None:
    header = [*dict.fromkeys(k for row in BOOK for k in row), "Provider"]
    with path.open("w", newline="", encoding="cp1252") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows({**row, "Provider": "Café Court – £ rates"} for row in BOOK)


def test_finance_officer_audits_a_council_export_and_downloads_the_workbook(browser, server, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    book = tmp_path / "Placements export.csv"
    write_cp1252(book)
    browser.get(server + "/")
    browser.find_element(By.LINK_TEXT, "Audit").click()
    assert "Audit a placement book" in browser.find_element(By.TAG_NAME, "h1").text
    for control in browser.find_elements(By.CSS_SELECTOR, "form input"):
        assert browser.find_elements(By.CSS_SELECTOR, f"label[for='{control.get_attribute('id')}']")
    browser.find_element(By.ID, "book").send_keys(str(book))
    browser.execute_script("document.getElementById('as_at').value = '2026-07-31';")
    browser.find_element(By.ID, "run-audit").click()

    WebDriverWait(browser, 60).until(lambda d: d.find_element(By.ID, "audit-results").is_displayed())
    summary = browser.find_element(By.ID, "audit-summary").text
    assert "5 rows, 1 could not be decided" in summary
    isp_row = browser.find_element(By.CSS_SELECTOR, "#kpi-table tr[data-kpi=isp_no_nhs_contribution]")
    assert "Over the ISP threshold, no NHS contribution" in isp_row.text
    assert isp_row.find_elements(By.TAG_NAME, "td")[0].text == "1"
    isp_list = browser.find_element(By.ID, "list-isp_no_nhs_contribution")
    assert "1 rows" in isp_list.text
    listed = [row.get_attribute("data-placement") for row in isp_list.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert listed == ["B-2"]
    assert "Café Court – £ rates" in isp_list.text and "£3,567.68" in isp_list.text
    # a working-age row in a list shows its CareCubed comparison, and no over-65 median (SPEC §19)
    approvals = browser.find_element(By.ID, "list-needs_approval")
    heads = [th.text for th in approvals.find_elements(By.CSS_SELECTOR, "thead th")]
    assert "care cubed weekly" in heads and "over care cubed percent" in heads
    row = approvals.find_element(By.CSS_SELECTOR, "tbody tr[data-placement='E-5']")
    cells = dict(zip(heads, (td.text for td in row.find_elements(By.TAG_NAME, "td"))))
    assert cells["care cubed weekly"] == "£800.00" and cells["over care cubed percent"] == "5"
    assert cells["benchmark weekly"] == "" and cells["over benchmark percent"] == ""
    errors = browser.find_element(By.ID, "error-table").text
    assert "core_weekly_fee" in errors and "must not be negative" in errors and "5" in errors  # spreadsheet row 5
    notes = browser.find_element(By.ID, "audit-notes").text
    assert "Windows-1252" in notes

    link = browser.find_element(By.ID, "download-results-xlsx").get_attribute("href")
    download = tmp_path / "results.xlsx"
    download.write_bytes(httpx.get(link, timeout=30).raise_for_status().content)
    workbook = CalamineWorkbook.from_path(str(download))
    assert workbook.sheet_names[:3] == ["Results", "KPIs", "isp_no_nhs_contribution"]
    rows = workbook.get_sheet_by_name("isp_no_nhs_contribution").to_python()
    header = rows[0]
    assert [r[header.index("placement_id")] for r in rows[1:]] == ["B-2"]
    assert rows[1][header.index("gross_weekly_cost")] == 3567.68
    browser.save_screenshot(str(tmp_path / "audit.png"))
