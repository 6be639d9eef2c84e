"""The page: a Financial assessment section shown on request; the contribution worded for the family and the
payments table on the decision page; payments in the API's decision."""

from __future__ import annotations

import re

from tests.api.test_api_workflow_page import page_of, text_of
from tests.conftest import placement

TOP_UP = placement(
    placement_id="CHG-WEB",
    age=84,
    care_type="residential",
    core_weekly_fee="965.00",
    top_up_weekly="50.00",
    top_up_payer="third_party",
    top_up_agreement_signed=True,
    top_up_affordability_confirmed=True,
    capital="15250.00",
    weekly_income="170.00",
)


def test_the_form_folds_the_financial_assessment_until_asked(client):
    html = client.get("/").text
    folded = re.search(r'<details class="on-request" id="financial-assessment"\s*>', html)
    assert folded, "the Financial assessment section is shown on request (a closed <details>)"
    section = html[folded.start() : html.index("</details>", folded.start())]
    assert "Financial assessment (optional)" in section
    for name in ("weekly_income", "capital", "property_value", "dre_weekly", "payment_model"):
        assert f'name="{name}"' in section


def test_a_filled_in_assessment_stays_open_when_the_form_is_sent_back(client):
    response = client.post("/", data={"placement_id": "X", "service": "care_home", "weekly_income": "170.00"})
    assert re.search(r'<details class="on-request" id="financial-assessment"\s+open>', response.text)


def test_the_decision_says_what_the_family_pays_and_who_pays_whom(client):
    html = page_of(client, TOP_UP)
    assert text_of(html, "contribution") == (
        "You pay £142.20 a week towards your care, in addition to the top-up of £50.00 that your family or "
        "friend has agreed to pay."
    )
    payments = re.search(r'<table id="payments">(.*?)</table>', html, re.S)
    assert payments
    rows = re.findall(
        r'data-payment="([a-z_-]+)"><td>[^<]*</td><td>[^<]*</td><td class="num">([^<]+)</td>', payments.group(1)
    )
    assert rows == [("council-provider", "£965.00"), ("resident-council", "£142.20"), ("third_party-council", "£50.00")]
    assert re.search(r'id="provider-total">£965.00<', html)


def test_the_api_decision_lists_the_payments(client):
    body = client.post("/v1/decisions", json={**TOP_UP, "payment_model": "net"}).json()
    assert body["payments"] == [
        {"payer": "council", "payee": "provider", "weekly": 772.80, "note": "the council's payment for the placement"},
        {"payer": "resident", "payee": "provider", "weekly": 142.20, "note": "the resident's assessed contribution"},
        {"payer": "third_party", "payee": "provider", "weekly": 50.00, "note": "the agreed top-up"},
    ]
    assert body["figures"]["payment_model"] == "net"


def test_a_flag_that_may_be_unrecorded_offers_yes_no_and_not_recorded(client):
    html = client.get("/").text
    select = re.search(r'<select name="deferred_payment_agreement".*?</select>', html, re.S)
    assert select, "a nullable flag is a select, not a checkbox"
    assert re.findall(r'<option value="([a-z]*)"', select.group(0)) == ["", "true", "false"]
    assert 'type="checkbox" name="property_disregarded"' in html  # a plain flag stays a checkbox


def test_the_form_records_no_deferred_payment_agreement_and_top_08_refuses_that_basis(client):
    form = {
        "placement_id": "CHG-FORM",
        "service": "care_home",
        "start_date": "2026-05-04",
        "age": "84",
        "care_type": "residential",
        "core_weekly_fee": "965.00",
        "top_up_weekly": "50.00",
        "top_up_payer": "first_party",
        "first_party_basis": "deferred_payment",
        "top_up_agreement_signed": "true",
        "top_up_affordability_confirmed": "true",
        "user_name": "Test Broker",
    }
    form["csrf_token"] = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)
    for recorded, outcome in (("false", "not_permitted"), ("", "proceed"), ("true", "proceed")):
        response = client.post("/", data={**form, "deferred_payment_agreement": recorded}, follow_redirects=True)
        assert response.status_code == 200, response.text
        assert f'data-outcome="{outcome}"' in response.text, recorded
        assert ("TOP-08" in response.text) == (recorded == "false")
