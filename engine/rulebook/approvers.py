"""The approver roles a rulebook declares (``rules/contents.yaml``), in order of seniority, with the words shown
for each and which roles each may approve for.

A role approves what names it; a role that ``also_approves`` more junior roles approves what names them too
(the shipped rulebook: a higher role in the approval bands' chain may approve a lower band). Who may approve a
decision is worked out here, from the declaration alone: no role is named in Python.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Approvers:
    labels: dict[str, str] = field(default_factory=dict)  # role → the words shown, most junior first
    also: dict[str, tuple[str, ...]] = field(default_factory=dict)  # role → the more junior roles it approves for
    publishers: tuple[str, ...] = ()  # the roles that may publish or reject an edition of the rates (SPEC §18)

    @property
    def order(self) -> tuple[str, ...]:
        """The roles, most junior first."""
        return tuple(self.labels)

    def label(self, role: str) -> str | None:
        return self.labels.get(role)

    def approves(self, role: str) -> frozenset[str]:
        """What a holder of ``role`` may approve: what names it, or a role it also approves for."""
        return frozenset({role, *self.also.get(role, ())})

    def covers(self, held: Collection[str], needed: str) -> bool:
        """May a holder of ``held`` approve what needs ``needed``: the role itself, or one that approves for it."""
        return needed in held or any(needed in self.approves(role) for role in held if role in self.labels)

    def acting_role(self, held: Collection[str], needed: Iterable[str]) -> str | None:
        """The role in which ``held`` approves every one of ``needed`` (the most junior that does), or None."""
        wanted = tuple(needed)
        for role in self.order:
            if role in held and all(one in self.approves(role) for one in wanted):
                return role
        return None

    def coverable(self, held: Collection[str]) -> list[str]:
        """The declared roles a holder of ``held`` may approve for, sorted."""
        return sorted(role for role in self.order if self.covers(held, role))
