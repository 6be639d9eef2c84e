"""Sign-in and roles: with users, every route refuses the anonymous (401) and a wrong role (403); forms carry a
CSRF token and cross-site posts are refused; X-User is never believed; local single-user mode only on loopback."""

from __future__ import annotations

import re

import pytest
from conftest import FIXED_NOW, P_1001, add_user, make_client
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.auth.identity import StartRefused, all_roles, token_digest
from api.main import create_app
from api.serve.settings import Settings
from engine.rulebook.loader import load_rulebook

ROLES = all_roles(load_rulebook().approvers)  # the system roles and the test rulebook's approver roles

# Open to anyone: the health check (for load balancers), signing in and out, and the API's documentation.
PUBLIC = {"/healthz", "/signin", "/signout", "/docs", "/openapi.json"}


def api_routes(routes, prefix: str = ""):
    """Every route of the app, through included routers (whatever way FastAPI keeps them)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route.methods
        elif hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes, prefix + route.include_context.prefix)


def routes(app) -> list[tuple[str, str]]:
    found = []
    for path, methods in api_routes(app.routes):
        if path not in PUBLIC:
            concrete = re.sub(r"\{[a-z_]+(:int)?\}", "1", path)
            found.extend((method, concrete) for method in sorted(methods - {"HEAD"}))
    return found


def role_refused(response) -> bool:
    """403 because of the role (not the CSRF check): the JSON code, or the page that says so."""
    if response.status_code != 403:
        return False
    if response.headers["content-type"].startswith("application/json"):
        return response.json()["error"]["code"] == "forbidden"
    return 'id="forbidden"' in response.text


@pytest.fixture
def team(sqlite_url):
    with make_client(sqlite_url) as client:
        people = {role: add_user(client, f"{role} user", role) for role in ROLES}
        client.post("/v1/decisions", json=P_1001, headers=people["broker"])  # decision 1 exists
        yield client, people


def test_every_route_refuses_an_anonymous_request(team):
    client, _ = team
    checked = routes(client.app)
    assert len(checked) >= 12
    for method, path in checked:
        response = client.request(method, path, headers={"X-User": "Chief Exec"})
        assert response.status_code == 401, (method, path, response.status_code)
    assert client.post("/v1/decisions", json=P_1001).headers["WWW-Authenticate"] == "Bearer"
    page = client.get("/decisions/1")
    assert 'action="/signin"' in page.text  # a page answers with the sign-in form


def test_every_route_refuses_a_wrong_role_and_lets_its_own_roles_through(team):
    client, people = team
    for method, path in routes(client.app):
        refused = [
            role for role, headers in people.items() if role_refused(client.request(method, path, headers=headers))
        ]
        allowed = set(ROLES) - set(refused)
        assert refused, f"{method} {path}: no role is refused"
        assert allowed, f"{method} {path}: every role is refused"
    assert role_refused(client.post("/v1/decisions", json=P_1001, headers=people["finance"]))
    assert client.post("/v1/decisions", json=P_1001, headers=people["broker"]).status_code == 201
    assert role_refused(client.post("/v1/audits", headers=people["broker"]))
    assert role_refused(client.get("/v1/decisions/1", headers=people["admin"]))
    assert client.get("/v1/decisions/1", headers=people["finance"]).status_code == 200


def test_a_wrong_token_is_not_signed_in(team):
    client, people = team
    good = people["broker"]["Authorization"]
    for header in (good[:-2] + "xx", "Bearer crt_nothing_here", "Basic abc", good.replace("Bearer", "Bearer  ") + "!"):
        assert client.get("/v1/decisions", headers={"Authorization": header}).status_code == 401, header


def test_the_log_records_the_signed_in_user_never_x_user(team):
    client, people = team
    response = client.post("/v1/decisions", json=P_1001, headers={**people["broker"], "X-User": "Chief Exec"})
    record = client.get(response.headers["location"], headers=people["broker"]).json()
    assert record["user"] == "broker user"


def signed_in_browser(client: TestClient, name: str, token: str) -> None:
    page = client.get("/signin")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/signin", data={"name": name, "token": token, "csrf_token": csrf, "next": "/"}, follow_redirects=False
    )
    assert response.status_code == 303, response.text


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_session_sign_in_then_a_form_post_is_logged_as_that_user(sqlite_url):
    with make_client(sqlite_url) as client:
        headers = add_user(client, "Ann Broker", "broker")
        token = headers["Authorization"].removeprefix("Bearer ")
        # a wrong token shows the form again
        page = client.get("/signin")
        wrong = client.post("/signin", data={"name": "Ann Broker", "token": "nope", "csrf_token": csrf_of(page.text)})
        assert wrong.status_code == 401 and "do not match" in wrong.text
        signed_in_browser(client, "Ann Broker", token)
        form = client.get("/")
        assert form.status_code == 200 and 'data-user="Ann Broker"' in form.text and "local-mode" not in form.text
        fields = {**{k: str(v) for k, v in P_1001.items()}, "csrf_token": csrf_of(form.text)}
        posted = client.post("/", data=fields, follow_redirects=False)
        assert posted.status_code == 303
        decision_id = posted.headers["location"].rsplit("/", 1)[1]
        assert client.get(f"/v1/decisions/{decision_id}").json()["user"] == "Ann Broker"
        # the same post without the page's token is refused, and nothing is stored
        del fields["csrf_token"]
        assert client.post("/", data=fields).status_code == 403
        assert len(client.get("/v1/decisions").json()) == 1
        # signing out ends the session
        client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
        assert client.get("/").status_code == 401


def test_a_cross_site_form_post_is_refused(sqlite_url):
    with make_client(sqlite_url) as client:
        csrf = csrf_of(client.get("/").text)  # local mode: the page works, its form has a token
        fields = {**{k: str(v) for k, v in P_1001.items()}, "csrf_token": csrf}
        for headers in (
            {"Origin": "https://evil.example"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
        ):
            response = client.post("/", data=fields, headers=headers)
            assert response.status_code == 403 and response.json()["error"]["code"] == "cross_site", headers
        # the JSON API too: a cross-site page cannot post a placement as the browser's user
        response = client.post("/v1/decisions", json=P_1001, headers={"Origin": "https://evil.example"})
        assert response.status_code == 403
        assert client.get("/v1/decisions").json() == []
        # from the page itself it goes through
        same = client.post("/", data=fields, headers={"Origin": "http://testserver"}, follow_redirects=False)
        assert same.status_code == 303


def test_local_single_user_mode_says_so_on_every_page(client):
    for path in ("/", "/decisions", "/rules"):
        page = client.get(path)
        assert page.status_code == 200 and 'id="local-mode"' in page.text, path
    body = client.post("/v1/decisions", json=P_1001)
    assert client.get(body.headers["location"]).json()["user"] == "local"


def test_no_local_mode_off_loopback_and_no_start_without_users_or_a_proxy(sqlite_url):
    with pytest.raises(StartRefused, match="carerules users add"):
        create_app(Settings(database_url=sqlite_url, host="0.0.0.0"))
    with make_client(sqlite_url) as client:
        add_user(client, "Ann Broker", "broker")
    with make_client(sqlite_url, host="0.0.0.0") as client:  # users exist: starts, and nobody is local
        assert client.get("/v1/decisions").status_code == 401
    empty = sqlite_url.replace("decisions.db", "empty.db")
    with make_client(empty, host="0.0.0.0", trusted_proxies=("10.0.0.5",)) as client:
        assert client.get("/v1/decisions").status_code == 401


def test_the_single_sign_on_header_counts_only_from_the_trusted_proxy(sqlite_url):
    settings = Settings(
        database_url=sqlite_url, host="0.0.0.0", trusted_proxies=("10.0.0.5",), allowed_hosts=["testserver"]
    )
    with make_client(sqlite_url) as setup:
        add_user(setup, "Sam Broker", "broker")
    app = create_app(settings, clock=lambda: FIXED_NOW)
    with TestClient(app, client=("10.0.0.5", 40000)) as proxy:
        response = proxy.post("/v1/decisions", json=P_1001, headers={"X-Remote-User": "Sam Broker"})
        assert response.status_code == 201
        record = proxy.get(response.headers["location"], headers={"X-Remote-User": "Sam Broker"}).json()
        assert record["user"] == "Sam Broker"
        # a name the proxy vouches for but who holds no role here
        assert role_refused(proxy.get("/v1/decisions", headers={"X-Remote-User": "Stranger"}))
    with TestClient(app, client=("10.0.0.6", 40000)) as elsewhere:
        assert elsewhere.get("/v1/decisions", headers={"X-Remote-User": "Sam Broker"}).status_code == 401


def test_users_add_prints_a_token_once_kept_only_as_a_digest(sqlite_url, monkeypatch):
    from typer.testing import CliRunner

    from engine.cli.main import app as cli

    monkeypatch.setenv("CARERULES_DATABASE_URL", sqlite_url)
    added = CliRunner().invoke(cli, ["users", "add", "Ann Broker", "--role", "broker", "--role", "finance"])
    assert added.exit_code == 0, added.output
    token = added.stdout.strip()
    assert token.startswith("crt_")
    again = CliRunner().invoke(cli, ["users", "add", "Ann Broker", "--role", "broker"])
    assert again.exit_code == 2 and "already a user" in again.stderr
    assert CliRunner().invoke(cli, ["users", "add", "Bo", "--role", "chief_exec"]).exit_code == 2
    listed = CliRunner().invoke(cli, ["users", "list"])
    assert listed.stdout.strip() == "Ann Broker\tbroker finance"
    with make_client(sqlite_url) as client:
        stored = client.app.state.auth.store.user_by_name("Ann Broker")
        assert token not in stored.token_hash and stored.token_hash == token_digest(token)
        signed_in = {"Authorization": f"Bearer {token}"}
        assert client.get("/v1/decisions", headers=signed_in).status_code == 200
        fresh = CliRunner().invoke(cli, ["users", "token", "Ann Broker"]).stdout.strip()
        assert client.get("/v1/decisions", headers=signed_in).status_code == 401  # at once: nothing remembered
        assert client.get("/v1/decisions", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_local_mode_identity_is_made_again_for_another_editions_approvers(sqlite_url):
    """Local mode's identity is kept per approvers (api/auth/identity.py): the same edition gets it again; an edition
    declaring other approver roles gets those roles at once; local mode still ends when a user is added."""
    import asyncio

    from starlette.requests import Request

    from engine.rulebook.approvers import Approvers

    def identify(client: TestClient, approvers: Approvers):
        scope = {"type": "http", "headers": [], "client": ("127.0.0.1", 1), "path": "/", "method": "GET"}
        return asyncio.run(client.app.state.auth.identify(Request(scope), approvers))  # type: ignore[attr-defined]

    ours = Approvers({"team_manager": "Team manager"})
    theirs = Approvers({"team_manager": "Team manager", "head_of_service": "Head of service"})
    with make_client(sqlite_url) as client:
        first = identify(client, ours)
        assert first is identify(client, ours) and first.via == "local"
        assert first.roles == frozenset(all_roles(ours)) and first.approvers is ours
        other = identify(client, theirs)
        assert other.roles == frozenset(all_roles(theirs)) and "head_of_service" in other.roles
        assert other.approvers is theirs and "head_of_service" not in identify(client, ours).roles
        add_user(client, "Ann Broker", "finance")
        assert identify(client, ours) is None


def test_local_mode_looks_for_users_once_however_many_requests_come_during_the_look(sqlite_url):
    """Local mode's once-a-second look for a user added since (api/auth/identity.py) is one read a worker: the
    requests that come while it runs wait for its answer (none is let through before it, none reads again), and a
    user added is seen by every one of them; a look that fails fails every request that waited on it."""
    import asyncio
    import threading

    from starlette.requests import Request

    from api.auth.identity import LogUnavailable
    from engine.rulebook.approvers import Approvers

    approvers = Approvers({"team_manager": "Team manager"})
    scope = {"type": "http", "headers": [], "client": ("127.0.0.1", 1), "path": "/", "method": "GET"}
    with make_client(sqlite_url) as client:
        auth = client.app.state.auth  # type: ignore[attr-defined]
        real = auth.had_users
        reads: list[int] = []
        let_go = threading.Event()
        fail = False

        def slow_had_users() -> bool:
            reads.append(1)
            let_go.wait(5)
            if fail:
                raise LogUnavailable("the decision log did not answer")
            return bool(real())

        auth.had_users = slow_had_users

        async def many(count: int, look: bool = True) -> list[object]:
            if look:
                auth.no_users_until = 0.0  # the second is up
            asks = [asyncio.ensure_future(auth.identify(Request(scope), approvers)) for _ in range(count)]
            await asyncio.sleep(0.05)
            assert not any(ask.done() for ask in asks) if look else all(ask.done() for ask in asks)
            let_go.set()
            return await asyncio.gather(*asks, return_exceptions=True)

        answers = asyncio.run(many(20))
        assert len(reads) == 1 and all(answer is not None and answer.via == "local" for answer in answers)
        answers = asyncio.run(many(5, look=False))  # within the second: no read at all
        assert len(reads) == 1 and all(answer.via == "local" for answer in answers)
        let_go.clear()
        fail = True
        answers = asyncio.run(many(7))
        assert len(reads) == 2 and all(isinstance(answer, LogUnavailable) for answer in answers)
        fail = False
        let_go.clear()
        add_user(client, "Ann Broker", "finance")
        answers = asyncio.run(many(9))
        assert len(reads) == 3 and answers == [None] * 9
