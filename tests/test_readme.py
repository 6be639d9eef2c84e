"""The README's and the docs' examples run as written, in the mode the README's first command
(``./scripts/run.sh``) starts; and every module path they name exists.

Every fenced ``console`` or ``text`` block that shows a command (a line starting ``$ ``) is a session: its
commands run in order in one shell, in a scratch folder that holds the repository's ``examples/`` and a
``.venv/bin`` pointing at this interpreter's, with the server started as ``run.sh`` starts it (loopback, a
fresh decision log, no users: one local user) on a free port, and what each command prints (standard output
and error together) must match what the page shows under it. A line ``…`` in a page stands for any
number of lines; ``…`` inside a line for any text. Each page (``README.md``, then each ``docs/*.md``) has its
own folder and server, and its blocks run in the page's order, sharing them, as a reader following that page
would.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.rulebook.loader import RULES_ENV
from tests.conftest import pinned_rules_dir

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
SHOWN_PORT = "127.0.0.1:8000"
FENCE = re.compile(r"^```(console|text)\n(.*?)^```", re.MULTILINE | re.DOTALL)


@dataclass
class Example:
    line: int  # the page's line of the command
    command: str
    expected: str


def sessions(text: str) -> list[list[Example]]:
    """A page's sessions: each block's commands, with what the page shows each one printing."""
    found: list[list[Example]] = []
    for match in FENCE.finditer(text):
        body = match.group(2)
        if not re.search(r"^\$ ", body, re.MULTILINE):
            continue
        first = text.count("\n", 0, match.start(2)) + 1
        examples: list[Example] = []
        lines = body.splitlines()
        i = 0
        while i < len(lines):
            if not lines[i].startswith("$ "):
                i += 1
                continue
            start = i
            command = lines[i][2:]
            while command.endswith("\\") and i + 1 < len(lines):
                i += 1
                command = command + "\n" + lines[i]
            i += 1
            output: list[str] = []
            while i < len(lines) and not lines[i].startswith("$ "):
                output.append(lines[i])
                i += 1
            while output and not output[-1].strip():
                output.pop()
            examples.append(Example(first + start, command, "\n".join(output)))
        found.append(examples)
    return found


def pattern(expected: str) -> re.Pattern[str]:
    parts = []
    for line in expected.splitlines():
        line = line.rstrip()
        if line.strip() == "…":
            parts.append(r"(?:[^\n]*\n)*?")
            continue
        parts.append(".*?".join(re.escape(piece) for piece in line.split("…")) + r"\n")
    return re.compile("".join(parts))


def matches(expected: str, actual: str) -> bool:
    actual = "".join(line.rstrip() + "\n" for line in actual.splitlines())
    return pattern(expected).fullmatch(actual) is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_matcher_takes_ellipses_and_nothing_else() -> None:
    assert matches('{"id": 1, …}\n…\nend', '{"id": 1, "x": 2}\na\nb\nend\n')
    assert matches("a\n…\nb", "a\nb\n")
    assert not matches('{"id": 1, …}', '{"id": 2, "x": 2}')
    assert not matches("total £6,437.85", "total £6,437.35")
    assert not matches("a\nb", "a\nb\nc\n")


def test_every_example_with_output_is_found() -> None:
    found = sessions(README.read_text(encoding="utf-8"))
    commands = [example.command for session in found for example in session]
    assert any("carerules check" in c for c in commands)
    assert any("carerules audit" in c for c in commands)
    assert any("curl" in c for c in commands)
    for page in ("brokerage", "finance-and-audit", "operators", "http-api"):
        assert sessions((ROOT / "docs" / f"{page}.md").read_text(encoding="utf-8")), page


# made when the wheel is built (setup.py's SHIPPED: rules/ as package data), so never in a checkout
BUILT = {"engine/rulebook/shipped"}
MODULE_PATH = re.compile(r"(?<![\w./-])((?:engine|api|scripts)/[\w./-]*[\w/])")


def module_paths(text: str) -> set[str]:
    """The paths under engine/, api/ and scripts/ a page names (`engine/audit/run.py`, `api/store/`)."""
    return set(MODULE_PATH.findall(text))


def test_module_paths_are_found() -> None:
    text = "see `engine/audit/run.py`, api/store/ and (scripts/run.sh); not tests/api/test_x.py or a/engine/b"
    assert module_paths(text) == {"engine/audit/run.py", "api/store/", "scripts/run.sh"}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_module_path_a_page_names_exists(page: Path) -> None:
    assert all(path.replace("/", ".") in (ROOT / "setup.py").read_text(encoding="utf-8") for path in BUILT)
    named = module_paths(page.read_text(encoding="utf-8")) - BUILT
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert not missing, f"{page.relative_to(ROOT)} names paths that do not exist: {missing}"


@contextlib.contextmanager
def served_folder(folder: Path) -> Iterator[tuple[Path, int, dict[str, str]]]:
    """A scratch folder as a reader's checkout, with the server ``run.sh`` starts (one local user) running."""
    (folder / "examples").symlink_to(ROOT / "examples")
    (folder / ".venv").mkdir()
    (folder / ".venv" / "bin").symlink_to(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARERULES_")}
    env[RULES_ENV] = str(pinned_rules_dir())  # the README's figures are the pinned illustrative ones
    env["COLUMNS"] = "200"
    port = free_port()
    server = subprocess.Popen(
        [str(folder / ".venv/bin/carerules"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        yield folder, port, env
    finally:
        server.terminate()
        server.wait(timeout=30)


def run_session(folder: Path, port: int, env: dict[str, str], examples: list[Example]) -> list[str]:
    marker = "@@readme-example@@"
    script = ["set +e"]
    for example in examples:
        # the marker keeps the status of the command before it, for an example that shows `echo $?`
        script.append(f"status=$?; echo {marker}; (exit $status)")
        script.append(f"{{ {example.command.replace(SHOWN_PORT, f'127.0.0.1:{port}')}\n}} 2>&1")
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)], cwd=folder, env=env, capture_output=True, text=True, timeout=600
    )
    return done.stdout.split(marker + "\n")[1:]


PAGES_WITH_EXAMPLES = [page for page in PAGES if sessions(page.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES, ids=lambda page: page.name)
def test_the_examples_run_as_written(page: Path, tmp_path: Path) -> None:
    failures = []
    with served_folder(tmp_path) as (folder, port, env):
        for session in sessions(page.read_text(encoding="utf-8")):
            outputs = run_session(folder, port, env, session)
            assert len(outputs) == len(session)
            for example, actual in zip(session, outputs):
                if not matches(example.expected, actual):
                    failures.append(
                        f"{page.relative_to(ROOT)} line {example.line}: $ {example.command}\n--- printed:\n{actual}"
                    )
    assert not failures, "\n\n".join(failures)


LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(text: str) -> set[str]:
    """The anchors a page's headings get, as GitHub makes them (lower case, punctuation dropped, spaces → -)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return {
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", text, re.MULTILINE)
    }


def test_anchors_are_made_as_github_makes_them() -> None:
    assert anchors("## Users, sign-in and local mode\n```\n# not a heading\n```\n") == {"users-sign-in-and-local-mode"}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_link_between_the_pages_resolves(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue
        name, _, anchor = target.partition("#")
        linked = (page.parent / name).resolve() if name else page
        if not linked.exists() or (anchor and anchor not in anchors(linked.read_text(encoding="utf-8"))):
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)} links to what does not exist: {broken}"
