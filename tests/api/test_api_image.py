"""The container image as shipped, without a Docker daemon: the Dockerfile's own command line and environment
(read from its last stage, not copied here) run on this machine, with the image's paths moved into a scratch
folder (its data volume, its secrets folder, its working directory) and its port replaced by a free one.

On a fresh database the first administrator comes from the secret file the image names (api/auth/bootstrap.py); with
no secret, ``serve --host 0.0.0.0`` still refuses to start. ``scripts/docker-smoke.sh`` builds and runs the real
image where a daemon exists."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from api.auth.bootstrap import BootstrapError, bootstrap_admin, fresh_token
from api.bench.loadgen import free_port, stop
from api.serve.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SECRETS = "/run/secrets"  # where Docker and compose mount secrets


def image_stage(dockerfile: Path) -> list[tuple[str, str]]:
    """The last stage's instructions as (INSTRUCTION, arguments), continuation lines joined."""
    joined = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    lines = [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]
    last_from = max(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines[last_from:]]


def image_config(dockerfile: Path) -> dict[str, object]:
    env: dict[str, str] = {}
    config: dict[str, object] = {"env": env}
    for instruction, arguments in image_stage(dockerfile):
        if instruction == "ENV":
            for pair in shlex.split(arguments):
                name, _, value = pair.partition("=")
                env[name] = value
        elif instruction in ("CMD", "ENTRYPOINT", "VOLUME"):
            config[instruction] = json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)
        elif instruction in ("WORKDIR", "EXPOSE", "USER"):
            config[instruction] = arguments
    return config


class Image:
    """The image's command line and environment, relocated into ``scratch``."""

    def __init__(self, scratch: Path) -> None:
        config = image_config(ROOT / "Dockerfile")
        assert "ENTRYPOINT" not in config, "the test runs CMD alone: teach it the ENTRYPOINT"
        volumes = config["VOLUME"]
        assert isinstance(volumes, list)
        self.moves = {SECRETS: scratch / "secrets", str(config["WORKDIR"]): scratch / "home"}
        self.moves |= {volume: scratch / f"volume{i}" for i, volume in enumerate(volumes)}
        for folder in self.moves.values():
            folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        exposed = str(config["EXPOSE"]).split("/")[0]
        command = config["CMD"]
        assert isinstance(command, list) and command[0] == "carerules", command
        self.command = [str(Path(sys.executable).parent / "carerules")]
        self.command += [str(self.port) if part == exposed else self.move(part) for part in command[1:]]
        env = config["env"]
        assert isinstance(env, dict)
        self.env = {"PATH": os.environ["PATH"], "HOME": str(self.moves[str(config["WORKDIR"])])}
        self.env |= {name: self.move(value) for name, value in env.items()}
        self.workdir = self.moves[str(config["WORKDIR"])]

    def move(self, text: str) -> str:
        for inside, outside in sorted(self.moves.items(), key=lambda item: -len(item[0])):
            text = text.replace(inside, str(outside))
        return text

    def secret(self, name: str) -> Path:
        return Path(self.move(f"{SECRETS}/{name}"))

    def start(self, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command,
            cwd=self.workdir,
            env=self.env | env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )


def wait_healthy(base: str, child: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise AssertionError(f"the image's command exited {child.returncode}: {child.stderr.read()}")
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("the image's command never answered /healthz")


def test_the_dockerfile_names_a_secret_file_for_the_first_administrator_and_no_token():
    env = image_config(ROOT / "Dockerfile")["env"]
    assert isinstance(env, dict)
    assert env["CARERULES_ADMIN_TOKEN_FILE"].startswith(SECRETS + "/")
    assert "CARERULES_ADMIN_TOKEN" not in env  # never a default token baked into the image


def test_the_image_command_refuses_a_fresh_volume_with_no_secret(tmp_path):
    image = Image(tmp_path)
    child = image.start()
    try:
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 2, err
    assert "with no users" in err and "CARERULES_ADMIN_TOKEN_FILE" in err


def test_the_image_command_serves_a_signed_in_page_from_the_secret_on_a_fresh_volume(tmp_path):
    image = Image(tmp_path)
    token = fresh_token()
    image.secret("carerules_admin_token").write_text(token + "\n", encoding="utf-8")
    child = image.start(CARERULES_ADMIN_ROLES="admin,broker")
    base = f"http://127.0.0.1:{image.port}"
    try:
        wait_healthy(base, child)
        with httpx.Client(base_url=base, timeout=10) as browser:
            assert browser.get("/").status_code in (302, 303, 401)  # nobody is signed in
            form = browser.get("/signin")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert csrf, form.text
            signed = browser.post(
                "/signin", data={"name": "admin", "token": token, "csrf_token": csrf.group(1), "next": "/"}
            )
            assert signed.status_code == 303, signed.text
            page = browser.get("/")
            assert page.status_code == 200 and "admin" in page.text and 'action="/signin"' not in page.text
            decision = browser.post(
                "/v1/decisions",
                headers={"Authorization": f"Bearer {token}"},
                content=(ROOT / "examples" / "spec_example.json").read_bytes(),
            )
            assert decision.status_code == 201, decision.text
        log_file = Path(image.env["CARERULES_DATABASE_URL"].removeprefix("sqlite:///"))
        assert log_file.is_file() and log_file.parent in image.moves.values()  # the decision log is on the volume
    finally:
        stop(child, 30)
    # The secret is read once: restarted without it, the database (which has had a user) still serves.
    image.secret("carerules_admin_token").unlink()
    again = image.start()
    try:
        wait_healthy(base, again)
        who = httpx.get(base + "/", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert who.status_code == 200
    finally:
        stop(again, 30)


def test_bootstrap_only_on_a_database_that_never_had_a_user_and_only_from_a_real_token(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    secret = tmp_path / "token"
    assert bootstrap_admin(Settings(database_url=url)) is None  # nothing given: nothing added, no default
    assert bootstrap_admin(Settings(database_url=url, admin_token_file=secret)) is None  # not mounted: nothing
    for weak in ("admin", "password123", "crt_abc_short"):
        secret.write_text(weak, encoding="utf-8")
        with pytest.raises(BootstrapError, match="not a carerules token"):
            bootstrap_admin(Settings(database_url=url, admin_token_file=secret))
    secret.write_text(fresh_token(), encoding="utf-8")
    with pytest.raises(BootstrapError, match="not both"):
        bootstrap_admin(Settings(database_url=url, admin_token_file=secret, admin_token=SecretStr(fresh_token())))
    with pytest.raises(BootstrapError, match="unknown role"):
        bootstrap_admin(Settings(database_url=url, admin_token_file=secret, admin_roles=["root"]))
    added = bootstrap_admin(Settings(database_url=url, admin_token_file=secret, admin_name="it-team"))
    assert added and "it-team" in added
    # Never again on this database, even with another token or name, even after every user is removed
    for name in ("it-team", "someone-else"):
        settings = Settings(database_url=url, admin_token=SecretStr(fresh_token()), admin_name=name)
        assert bootstrap_admin(settings) is None
    from api.store.decision_log import DecisionLog
    from api.store.workflow import WorkflowStore

    log = DecisionLog(url)
    store = WorkflowStore(log.engine)
    assert [(user.name, list(user.roles)) for user in store.users()] == [("it-team", ["admin"])]
    store.remove_user("it-team")
    assert bootstrap_admin(Settings(database_url=url, admin_token=SecretStr(fresh_token()))) is None
    assert store.user_count() == 0
    log.dispose()
