"""``Needs.roles`` keeps its last answer for the same approvers (api/auth/identity.py): the answer is the one made
afresh, whichever approvers come, in whatever order, again or anew."""

from __future__ import annotations

from api.auth.identity import APPROVE, AUDIT, CHECK, DRAFT, EDITIONS, PUBLISH, READ, USERS, Needs
from engine.rulebook.approvers import Approvers


def fresh(need: Needs, approvers: Approvers) -> frozenset[str]:
    found = set(need.system)
    if need.approvers:
        found |= set(approvers.order)
    if need.publishers:
        found |= set(approvers.publishers)
    return frozenset(found)


def test_each_answer_is_the_fresh_one_whatever_the_order() -> None:
    one = Approvers({"team_manager": "Team manager", "head_of_service": "Head"}, {}, ("head_of_service",))
    other = Approvers({"panel": "Panel"}, {}, ())
    same_as_one = Approvers(dict(one.labels), {}, ("head_of_service",))
    needs = [CHECK, READ, APPROVE, AUDIT, USERS, DRAFT, PUBLISH, EDITIONS, Needs(frozenset({"x"}), True, True)]
    for approvers in [one, one, other, one, Approvers(), same_as_one, other, other, one]:
        for need in needs:
            assert need.roles(approvers) == fresh(need, approvers)
    assert CHECK.roles(one) is CHECK.roles(one)  # kept, not made again
    assert "panel" in CHECK.roles(other) and "panel" not in CHECK.roles(one)
