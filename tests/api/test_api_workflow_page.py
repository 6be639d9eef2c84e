"""The decision page names where a refer goes and shows the price to quote."""

from __future__ import annotations

import re

from conftest import P_1001, add_user, make_client


def page_of(client, placement):
    response = client.post("/v1/decisions", json=placement)
    assert response.status_code == 201, response.text
    return client.get(f"/decisions/{response.headers['Location'].rsplit('/', 1)[1]}").text


def text_of(html: str, element_id: str) -> str:
    closing = "section" if element_id == "price-guide" else "p"
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</{closing}>', html, re.S)
    assert found, f"no #{element_id}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def test_a_refer_names_where_it_goes_and_never_says_no_approval_needed(client):
    # over £3,000 a week with no NHS contribution: ISP-01 refers to the ISP panel
    html = page_of(client, {**P_1001, "core_weekly_fee": "3500.00", "nhs_contribution_weekly": "0"})
    assert 'data-outcome="refer"' in html or 'data-outcome="needs_approval"' in html
    assert "the ISP panel" in text_of(html, "refer-to") and "ISP-01" in text_of(html, "refer-to")
    assert "no approval needed" not in html.split('id="price-guide"')[0]


def test_a_refer_only_decision_has_no_approval_line(client):
    html = page_of(client, {**P_1001, "age": 50})  # WAP-05: under 65, no CareCubed costing recorded
    assert 'data-outcome="refer"' in html
    assert "a Care Cubed costing" in text_of(html, "refer-to")
    assert 'id="approver"' not in html and "no approval needed" not in html


def test_the_page_answers_what_can_i_offer_the_provider(client):
    html = page_of(client, P_1001)  # Lot 6, £1,040.00 against the median £995.00
    guide = text_of(html, "price-guide")
    assert "What can I offer the provider?" in guide
    assert "up to £995.00 no approval needed" in guide
    assert "up to £1,044.75 Team manager approves this price" in guide
    assert "up to £1,144.25 Head of service approves; a Care Cubed costing is required" in guide
    assert "above £1,144.25 Placement panel approves" in guide


def test_the_api_decision_carries_refer_to_and_the_price_guide(client):
    # under 65 from 2026-04-01 the working-age strategy applies (WAP-05 before a costing; CHP-06 only before then)
    body = client.post("/v1/decisions", json={**P_1001, "age": 50}).json()
    assert [(f["rule_id"], f["refer_to"]) for f in body["findings"] if f["action"] == "refer"] == [
        ("WAP-05", "care_cubed_costing")
    ]
    assert "price_guide" not in body
    costed = client.post("/v1/decisions", json={**P_1001, "age": 50, "care_cubed_weekly": "1000.00"}).json()
    assert costed["price_guide"]["basis"] == "care_cubed" and costed["price_guide"]["benchmark_weekly"] == 1000.00
    assert [f["rule_id"] for f in costed["findings"] if f["action"] != "info"] == ["WAP-02"]  # 4.00% over
    guide = client.post("/v1/decisions", json=P_1001).json()["price_guide"]
    assert guide["benchmark_weekly"] == 995.00 and guide["bands"][1] == {
        "band": 1,
        "up_to_weekly": 1044.75,
        "approver": "team_manager",
        "care_cubed_required": False,
    }


def test_an_approver_decides_on_the_page_and_everyone_sees_who_when_and_why(sqlite_url):
    with make_client(sqlite_url) as client:
        broker = add_user(client, "Ann Broker", "broker")
        head = add_user(client, "Hana Head", "head_of_service")
        manager = add_user(client, "Tim Manager", "team_manager")
        lot_7 = {**P_1001, "care_type": "nursing", "dementia": True, "core_weekly_fee": "1140.00"}  # CHP-03
        decision_id = client.post("/v1/decisions", json=lot_7, headers=broker).headers["location"].rsplit("/", 1)[1]
        path = f"/decisions/{decision_id}"
        checked = client.get(path, headers=broker).text
        assert 'data-status="checked"' in checked and 'data-status="pending"' not in checked
        assert 'id="record-approval"' not in client.get(path, headers=head).text  # nobody asked: nothing to decide
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', checked).group(1)
        asked = client.post(
            f"{path}/request-approval", data={"csrf_token": csrf}, headers=broker, follow_redirects=False
        )
        assert asked.status_code == 303
        assert 'data-status="pending"' in client.get(path, headers=broker).text
        assert 'id="record-approval"' not in client.get(path, headers=broker).text  # a broker cannot approve
        assert 'id="record-approval"' not in client.get(path, headers=manager).text  # band 2: not a team manager
        page = client.get(path, headers=head).text
        assert 'id="record-approval"' in page
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        form = {"decision": "approve", "reason": "Care Cubed costing supports £1,140.00", "csrf_token": csrf}
        # without the page's token: refused, nothing recorded
        assert client.post(f"{path}/approval", data={**form, "csrf_token": "x"}, headers=head).status_code == 403
        missing_reason = client.post(f"{path}/approval", data={**form, "reason": " "}, headers=head)
        assert missing_reason.status_code == 422 and "Give the reason" in missing_reason.text
        done = client.post(f"{path}/approval", data=form, headers=head, follow_redirects=False)
        assert done.status_code == 303
        shown = " ".join(client.get(path, headers=broker).text.split())
        assert 'data-status="approved"' in shown
        assert "Approved by <strong>Hana Head</strong> (Head of service) on 2 November 2026 at 09:30 UTC" in shown
        assert "Care Cubed costing supports £1,140.00" in shown
        listing = client.get("/decisions?status=approved", headers=broker).text
        assert "Approved (Hana Head)" in listing and 'data-status="approved"' in listing
        assert "No decisions match" in client.get("/decisions?status=pending", headers=broker).text


def test_the_form_shows_the_chosen_services_sections_and_reads_dates_day_first(client):
    form = client.get("/").text
    assert re.search(r'data-section="care_home"\s*>', form)  # care home is the default service: shown
    assert re.search(r'data-section="supported_living"\s+hidden', form)
    assert 'type="date"' not in form  # the browser's locale does not turn 11/05 into 5 November
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    fields = {
        "placement_id": "D-1",
        "service": "care_home",
        "start_date": "11/05/2026",
        "age": "84",
        "care_type": "nursing",
        "core_weekly_fee": "1040.00",
        "csrf_token": csrf,
    }
    posted = client.post("/", data=fields, follow_redirects=False)
    assert posted.status_code == 303
    stored = client.get("/v1" + posted.headers["location"]).json()
    assert stored["decision"]["as_at"] == "2026-05-11"
    # an error page keeps the date and says it in words; a supported-living form hides the care-home sections
    again = client.post("/", data={**fields, "service": "supported_living", "age": "x"})
    assert again.status_code == 422
    assert 'id="start_date-words" aria-live="polite">11 May 2026</p>' in again.text
    assert re.search(r'data-section="care_home"\s+hidden', again.text)
    assert re.search(r'data-section="top_up"\s+hidden', again.text)


def test_a_home_care_form_shows_the_package_and_home_care_fields_only(client):
    """SPEC §16.1: the form shows only the fields of the chosen service; a package's sections name its services."""
    form = client.get("/").text
    assert re.search(
        r'data-services="[^"]*\bhome_care\b[^"]*\bdirect_payment\b[^"]*" data-section="package"\s+hidden', form
    )
    assert re.search(r'data-services="home_care" data-section="home_care"\s+hidden', form)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    fields = {
        "placement_id": "HC-1",
        "service": "home_care",
        "start_date": "11/05/2026",
        "age": "x",
        "hc_hours": "130",
        "hc_hourly_rate": "23.08",
        "csrf_token": csrf,
    }
    again = client.post("/", data=fields)  # an error page keeps the service chosen
    assert again.status_code == 422
    assert re.search(r'data-section="package"\s*>', again.text)
    assert re.search(r'data-section="home_care"\s*>', again.text)
    assert re.search(r'data-section="care_home"\s+hidden', again.text)
    assert re.search(r'data-section="supported_living"\s+hidden', again.text)
    posted = client.post("/", data={**fields, "age": "79"}, follow_redirects=False)
    assert posted.status_code == 303
    stored = client.get("/v1" + posted.headers["location"]).json()
    assert stored["decision"]["figures"]["gross_weekly_cost"] == 3000.40
    assert [f["rule_id"] for f in stored["decision"]["findings"]] == ["ISP-02"]


def test_the_top_up_line_only_when_a_top_up_is_proposed(client):
    no_top_up = page_of(client, P_1001)  # £1,040.00 against a budget of £995.00, no top-up proposed
    assert 'data-figure="top_up_required_weekly"' not in no_top_up
    assert "Top-up needed" not in no_top_up
    with_top_up = page_of(
        client,
        {
            **P_1001,
            "top_up_weekly": "45.00",
            "top_up_payer": "third_party",
            "top_up_agreement_signed": True,
            "top_up_affordability_confirmed": True,
        },
    )
    assert "The most a top-up may cover" in with_top_up
    assert 'data-figure="top_up_required_weekly">£45.00' in with_top_up


def csrf_in(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_page_tells_the_truth_about_the_approval_state(sqlite_url):
    with make_client(sqlite_url) as client:
        broker = add_user(client, "Ann Broker", "broker")
        manager = add_user(client, "Tim Manager", "team_manager")
        other = add_user(client, "Tess Other", "team_manager")
        lot_6 = {**P_1001, "core_weekly_fee": "£1,040.00"}  # CHP-02: team manager
        decision_id = client.post("/v1/decisions", json=lot_6, headers=broker).headers["location"].rsplit("/", 1)[1]
        path = f"/decisions/{decision_id}"

        checked = client.get(path, headers=broker).text  # a price tried: not pending, not waiting for anyone
        assert text_of(checked, "next-step") == (
            "£1,040.00 a week needs approval by Team manager (or a higher role) before it can be agreed. Nobody has "
            "asked for it yet: try other prices freely, and ask for approval of the one you mean to offer."
        )
        assert 'data-status="checked"' in checked and "Waiting for approval" not in checked
        assert 'id="request-approval"' in checked
        listing = client.get("/decisions?waiting_for=me", headers=manager).text
        assert f'data-decision="{decision_id}"' not in listing and "No decisions match" in listing

        asked = client.post(f"{path}/request-approval", data={"csrf_token": csrf_in(checked)}, headers=broker)
        pending = asked.text  # followed to the decision page
        assert text_of(pending, "next-step") == (
            "Waiting for approval by Team manager (or a higher role), asked by Ann Broker on 2 November 2026. "
            "Do not agree the placement at £1,040.00 a week until it is approved."
        )
        assert 'id="request-approval"' not in pending
        again = client.post(f"{path}/request-approval", data={"csrf_token": csrf_in(pending)}, headers=broker)
        assert again.status_code == 409 and "already asked for" in again.text

        # waiting for the team managers, oldest first
        listing = client.get("/decisions?waiting_for=me", headers=manager).text
        assert "<h1>Waiting for me</h1>" in listing and f'data-decision="{decision_id}"' in listing
        assert 'id="nav-waiting"' in listing and 'id="nav-waiting"' not in client.get("/decisions", headers=broker).text

        # a form that fails validation keeps the choice made
        page = client.get(path, headers=manager).text
        form = {"decision": "decline", "reason": " ", "csrf_token": csrf_in(page)}
        missing = client.post(f"{path}/approval", data=form, headers=manager)
        assert missing.status_code == 422 and "Give the reason" in missing.text
        assert re.search(r'id="decision-decline" value="decline"\s+checked', missing.text)
        assert not re.search(r'id="decision-approve" value="approve"\s+checked', missing.text)
        no_choice = client.post(f"{path}/approval", data={**form, "decision": "", "reason": "typed"}, headers=manager)
        assert "Choose approve or decline" in no_choice.text and ">typed</textarea>" in no_choice.text

        form = {"decision": "approve", "reason": "Within the team manager's band", "csrf_token": csrf_in(page)}
        assert client.post(f"{path}/approval", data=form, headers=manager, follow_redirects=False).status_code == 303
        approved = client.get(path, headers=broker).text
        assert text_of(approved, "next-step") == (
            "Approved by Tim Manager (Team manager) on 2 November 2026: "
            "you may agree the placement at £1,040.00 a week."
        )
        assert "state-approved" in approved and "until it is approved" not in approved
        assert "Do not agree" not in approved and "<title>Approved: P-1001" in approved
        assert f'data-decision="{decision_id}"' not in client.get("/decisions?waiting_for=me", headers=other).text


def test_a_declined_price_says_so_with_the_reason_and_four_eyes_on_the_page(sqlite_url):
    with make_client(sqlite_url) as client:
        manager = add_user(client, "Tim Manager", "team_manager")
        other = add_user(client, "Tess Other", "team_manager")
        decision_id = client.post("/v1/decisions", json=P_1001, headers=manager).headers["location"].rsplit("/", 1)[1]
        path = f"/decisions/{decision_id}"
        page = client.get(path, headers=manager).text
        client.post(f"{path}/request-approval", data={"csrf_token": csrf_in(page)}, headers=manager)
        own = client.get(path, headers=manager).text
        assert 'id="record-approval"' not in own
        assert "someone else must approve or decline it" in text_of(own, "four-eyes")
        assert f'data-decision="{decision_id}"' not in client.get("/decisions?waiting_for=me", headers=manager).text
        # posted anyway (an old page): refused, nothing recorded
        form = {"decision": "approve", "reason": "mine", "csrf_token": csrf_in(own)}
        refused = client.post(f"{path}/approval", data=form, headers=manager)
        assert refused.status_code == 403 and "someone else must approve or decline it" in refused.text
        page = client.get(path, headers=other).text
        form = {"decision": "decline", "reason": "Use the block bed at Oak House", "csrf_token": csrf_in(page)}
        assert client.post(f"{path}/approval", data=form, headers=other, follow_redirects=False).status_code == 303
        declined = client.get(path, headers=manager).text
        assert text_of(declined, "next-step") == (
            "Declined by Tess Other (Team manager) on 2 November 2026: do not agree the placement at £1,040.00 a week. "
            "Reason: Use the block bed at Oak House"
        )
        assert "state-declined" in declined
