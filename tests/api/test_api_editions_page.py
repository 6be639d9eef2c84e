"""The Rates page without a browser: a draft from an upload, the four-eyes refusal for a drafter who also holds
head_of_service, a rejection needs its reason (the typed text kept), an expired form is refused, a problem file
is listed by row with the why kept."""

from __future__ import annotations

import re

from conftest import add_user, make_client

from tests.api.test_api_editions import rates_csv
from tests.conftest import copy_rules


def csrf_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def test_rates_page_draft_four_eyes_and_reject(sqlite_url, tmp_path):
    rules = copy_rules(tmp_path / "rules")
    with make_client(sqlite_url, rules_dir=rules) as client:
        both = add_user(client, "Olly Both", "policy_officer", "head_of_service")
        hana = add_user(client, "Hana Head", "head_of_service")
        broker = add_user(client, "Ann Broker", "broker")
        assert client.get("/rates", headers=broker).status_code == 403
        page = client.get("/rates", headers=both)
        assert page.status_code == 200 and 'id="upload-rates"' in page.text
        assert 'id="upload-rates"' not in client.get("/rates", headers=hana).text  # only a policy officer drafts

        bad = client.post(
            "/rates",
            data={"csrf_token": csrf_in(page.text), "why": "Cabinet 12 March"},
            files={"file": ("rates.csv", b"parameter,effective_from,value\nno.such,01/04/2027,1\n", "text/csv")},
            headers=both,
        )
        assert bad.status_code == 422 and "row 2: unknown parameter" in bad.text and "Cabinet 12 March" in bad.text
        expired = client.post(
            "/rates",
            data={"csrf_token": "x", "why": "w"},
            files={"file": ("rates.csv", rates_csv(rules), "text/csv")},
            headers=both,
        )
        assert expired.status_code == 403
        made = client.post(
            "/rates",
            data={"csrf_token": csrf_in(page.text), "why": "LaingBuisson medians", "replace": "yes"},
            files={"file": ("rates.csv", rates_csv(rules), "text/csv")},
            headers=both,
            follow_redirects=False,
        )
        assert made.status_code == 303, made.text
        path = made.headers["location"]
        own = client.get(path, headers=both)
        assert 'id="four-eyes"' in own.text and 'id="publish"' not in own.text
        refused = client.post(f"{path}/publish", data={"csrf_token": csrf_in(own.text)}, headers=both)
        assert refused.status_code == 403 and "someone else must publish or reject it" in refused.text

        theirs = client.get(path, headers=hana)
        assert 'id="publish"' in theirs.text and 'id="reject"' in theirs.text
        no_reason = client.post(
            f"{path}/reject", data={"csrf_token": csrf_in(theirs.text), "reason": " "}, headers=hana
        )
        assert no_reason.status_code == 422 and 'data-status="draft"' in no_reason.text
        done = client.post(
            f"{path}/reject", data={"csrf_token": csrf_in(theirs.text), "reason": "Wait for Cabinet"}, headers=hana
        )
        assert done.status_code == 200 and 'data-status="rejected"' in done.text and "Wait for Cabinet" in done.text
        listed = client.get("/rates", headers=hana).text
        assert 'data-status="rejected"' in listed and "LaingBuisson medians" in listed
        assert client.get("/rates/999", headers=hana).status_code == 404


def test_rates_page_tries_an_uplift_on_the_last_audited_book(sqlite_url, tmp_path):
    from tests.conftest import placement

    with make_client(sqlite_url) as client:
        hana = add_user(client, "Hana Head", "head_of_service")
        finance = add_user(client, "Fay Finance", "finance")
        page = client.get("/rates", headers=hana)
        form = {"csrf_token": csrf_in(page.text), "uplift": "residential=10", "from_date": "1/4/2027", "budget": "£50"}
        none_yet = client.post("/rates/whatif", data=form, headers=hana)
        assert none_yet.status_code == 422 and "No audit has been run" in none_yet.text
        row = placement(placement_id="W-1", care_type="residential", core_weekly_fee="900.00")
        book = (",".join(row) + "\n" + ",".join(str(v) for v in row.values()) + "\n").encode()
        assert (
            client.post("/v1/audits", files={"file": ("b.csv", book, "text/csv")}, headers=finance).status_code == 200
        )
        bad = client.post("/rates/whatif", data={**form, "uplift": "caviar=3"}, headers=hana)
        assert bad.status_code == 422 and "unknown category" in bad.text and 'value="£50"' in bad.text
        tried = client.post("/rates/whatif", data=form, headers=hana)
        assert tried.status_code == 200, tried.text
        added = re.search(r'id="review-added">([^<]+)<', tried.text).group(1)
        assert added.startswith("£") and added != "£0.00"  # the Lot's median raised 10%: the placement costs more
        assert 'id="review-remaining">-£' in tried.text  # £50 a year does not cover it
