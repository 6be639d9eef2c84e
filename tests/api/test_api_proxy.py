"""Behind the council's reverse proxy (api/serve/forwarded.py): links that work over HTTPS and under a sub-path,
forwarded headers believed only from the proxy's own address (CARERULES_FORWARDED_ALLOW_IPS), and the page
served under /carerules/ (CARERULES_ROOT_PATH), whether the proxy strips the sub-path or passes it on."""

from __future__ import annotations

import re

import pytest
from conftest import FIXED_NOW, P_1001, add_user, make_client
from fastapi.testclient import TestClient

from api.main import create_app
from api.serve.settings import Settings

LINK = re.compile(r'\b(?:href|src|action)="([^"]*)"')
PAGES = ("/", "/decisions", "/rules", "/audit", "/docs", "/signin")


def links(html: str) -> list[str]:
    return LINK.findall(html)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def test_every_link_on_the_pages_is_a_path_on_this_site_never_an_absolute_http_url(client):
    for path in PAGES:
        page = client.get(path)
        assert page.status_code == 200, path
        found = links(page.text)
        assert any("/static/" in link or "/docs-assets/" in link for link in found), path
        assert all(link.startswith(("/", "#")) for link in found), (path, found)
        assert "http://" not in page.text.split("<body", 1)[0], path  # no absolute asset URL in the head either


def app_behind(sqlite_url: str, **settings: object) -> object:
    return create_app(
        Settings(database_url=sqlite_url, allowed_hosts=["testserver"], **settings), clock=lambda: FIXED_NOW
    )


def sign_in(client: TestClient, name: str, token: str, **headers: str):
    csrf = csrf_of(client.get("/signin", headers=headers).text)
    return client.post(
        "/signin", data={"name": name, "token": token, "csrf_token": csrf}, headers=headers, follow_redirects=False
    )


def test_x_forwarded_proto_makes_cookies_secure_only_from_an_allowed_proxy(sqlite_url):
    app = app_behind(sqlite_url, forwarded_allow_ips=("10.20.0.0/16",))
    with TestClient(app, client=("10.20.3.4", 40000)) as proxy:
        cookie = proxy.get("/signin", headers={"X-Forwarded-Proto": "https"}).headers["set-cookie"]
        assert "secure" in cookie.lower()
    with TestClient(app, client=("192.0.2.10", 40000)) as stranger:  # not the proxy: the header is not believed
        cookie = stranger.get("/signin", headers={"X-Forwarded-Proto": "https"}).headers["set-cookie"]
        assert "secure" not in cookie.lower()
    with TestClient(
        create_app(Settings(database_url=sqlite_url, allowed_hosts=["testserver"])), client=("10.20.3.4", 1)
    ) as unset:
        cookie = unset.get("/signin", headers={"X-Forwarded-Proto": "https"}).headers["set-cookie"]
        assert "secure" not in cookie.lower()  # no proxy allowed by default: not even a private address


def test_the_client_is_the_address_an_allowed_proxy_forwards_and_only_there(sqlite_url):
    app = app_behind(sqlite_url, forwarded_allow_ips=("10.20.3.4",), signin_attempts_per_client=2)
    with TestClient(app, client=("10.20.3.4", 40000)) as proxy:
        for number in range(2):
            assert sign_in(proxy, f"Name {number}", "crt_0_x", **{"X-Forwarded-For": "1.1.1.1"}).status_code == 401
        assert sign_in(proxy, "Name 2", "crt_0_x", **{"X-Forwarded-For": "1.1.1.1"}).status_code == 429
        # another browser behind the proxy is not held up; the proxy's own entry (the last) is the one believed
        assert sign_in(proxy, "Name 3", "crt_0_x", **{"X-Forwarded-For": "2.2.2.2"}).status_code == 401
        assert sign_in(proxy, "Name 4", "crt_0_x", **{"X-Forwarded-For": "9.9.9.9, 1.1.1.1"}).status_code == 429
    with TestClient(app, client=("192.0.2.10", 40000)) as stranger:
        for number, forwarded in enumerate(("3.3.3.3", "4.4.4.4")):
            assert sign_in(stranger, f"Other {number}", "crt_0_x", **{"X-Forwarded-For": forwarded}).status_code == 401
        assert sign_in(stranger, "Other 2", "crt_0_x", **{"X-Forwarded-For": "5.5.5.5"}).status_code == 429


def test_a_forwarded_address_never_makes_anyone_the_single_sign_on_proxy(sqlite_url):
    """The HTTPS proxy may forward its client's address; the sign-on proxy is still only its own connection."""
    app = app_behind(
        sqlite_url, forwarded_allow_ips=("10.20.0.0/16",), trusted_proxies=("10.20.0.5",), sso_roles_header="X-Roles"
    )
    sso = {"X-Remote-User": "Ann Broker", "X-Roles": "broker"}
    with TestClient(app, client=("10.20.0.5", 1)) as sign_on_proxy:
        assert (
            sign_on_proxy.post("/v1/decisions", json=P_1001, headers={**sso, "X-Forwarded-For": "1.1.1.1"}).status_code
            == 201
        )
    with TestClient(app, client=("10.20.0.8", 1)) as other_proxy:
        posed = other_proxy.post("/v1/decisions", json=P_1001, headers={**sso, "X-Forwarded-For": "10.20.0.5"})
        assert posed.status_code == 401


@pytest.mark.parametrize("proxy_strips_the_sub_path", [True, False])
def test_the_page_is_served_under_a_sub_path(sqlite_url, proxy_strips_the_sub_path):
    prefix = "" if proxy_strips_the_sub_path else "/carerules"
    with make_client(sqlite_url, root_path="/carerules/") as client:
        for path in PAGES:
            page = client.get(prefix + path)
            assert page.status_code == 200, path
            found = [link for link in links(page.text) if not link.startswith("#")]
            assert found and all(link.startswith("/carerules/") for link in found), (path, found)
            for asset in (link for link in found if "/static/" in link or "/docs-assets/" in link):
                fetched = client.get(prefix + asset.removeprefix("/carerules"))
                assert fetched.status_code == 200 and fetched.content, asset
        assert client.get(prefix + "/openapi.json").json()["info"]["title"] == "carerules"
        assert client.get(prefix + "/healthz").status_code == 200
        form = client.get(prefix + "/")
        answer = client.post(
            prefix + "/",
            data={**{k: str(v) for k, v in P_1001.items()}, "csrf_token": csrf_of(form.text)},
            follow_redirects=False,
        )
        assert answer.status_code == 303 and answer.headers["location"].startswith("/carerules/decisions/")
        headers = add_user(client, "Ann Broker", "broker")
        token = headers["Authorization"].removeprefix("Bearer ")
        refused = client.get(prefix + "/decisions")
        assert refused.status_code == 401 and 'action="/carerules/signin"' in refused.text
        signed = client.post(
            prefix + "/signin",
            data={"name": "Ann Broker", "token": token, "csrf_token": csrf_of(refused.text), "next": "/decisions"},
            follow_redirects=False,
        )
        assert signed.status_code == 303 and signed.headers["location"] == "/carerules/decisions"
        assert client.get(prefix + "/decisions").status_code == 200


def test_a_root_path_or_proxy_address_that_cannot_be_read_is_refused_by_name(monkeypatch):
    for name, value in (
        ("ROOT_PATH", "carerules"),
        ("ROOT_PATH", "https://x/carerules"),
        ("FORWARDED_ALLOW_IPS", "proxy.local"),
    ):
        monkeypatch.setenv(f"CARERULES_{name}", value)
        with pytest.raises(ValueError, match=name.lower()):
            Settings()
        monkeypatch.delenv(f"CARERULES_{name}")
