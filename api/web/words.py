"""The rulebook's words for the codes a decision names, as the page shows them: approver roles and referral
destinations (rules/contents.yaml), figures (rules/figures.yaml), payers and payees (rules/wording.yaml).

Always those of the edition the request uses (api/routes/deps.py ``edition_of``); a code the edition does not
word (a system role such as broker, or a code from a decision stored under an older edition) is humanised."""

from __future__ import annotations

from engine.rulebook.loader import Rulebook


def humanise(name: str | None) -> str:
    """The code as words: its underscores spaces, its first letter a capital."""
    if not name:
        return ""
    text = name.replace("_", " ")
    return text[:1].upper() + text[1:]


def role_label(book: Rulebook | None, role: str | None) -> str:
    return (book.approvers.label(role or "") if book else None) or humanise(role)


def destination(book: Rulebook | None, code: str) -> str:
    return (book.referral_destinations.get(code) if book else None) or humanise(code)


def figure_label(book: Rulebook | None, name: str) -> str:
    figure = book.figures.get(name) if book else None
    return (figure.label if figure else None) or humanise(name)


def payer(book: Rulebook, code: str) -> str:
    return book.wording.payers.get(code) or humanise(code)


def payee(book: Rulebook, code: str) -> str:
    return book.wording.payees.get(code) or code
