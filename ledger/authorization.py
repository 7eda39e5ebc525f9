"""Who may do what: one rule, used by the HTTP API, the console and what ``ledger serve``
serves. (The CLI run on the store's own machine acts as its operator.)

A rep reaches the customers they hold: those they own, those with open work they are
responsible for (a promise or quote of theirs, a request or complaint given to them), and
those their manager put them on the team of. A manager reaches what the reps of their team
(and they themselves) reach. Compliance reaches every customer to read, and writes only
corrections, retractions and erasures; an admin manages keys, hires reps and may erase; an
analyst reads reports only.

Reading and writing follow the same reach, and writing never widens it: a command may only
touch a customer the key reaches already, and a rep's new customer is their own. A customer
outside one's reach is answered as one that does not exist (404), so that a key cannot
learn which references exist by trying them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ledger.commands import models as m
from ledger.errors import Forbidden, UnknownReference, a

ROLES = ("rep", "manager", "compliance", "analyst", "admin")
READS_CUSTOMERS = frozenset({"rep", "manager", "compliance"})
# Who lists likely duplicates, which compares customers' contact data across a whole team:
# a manager, over the customers their team reaches (both of a pair); compliance, over all.
# A rep asks their manager; a duplicate across two teams is compliance's to see.
FINDS_DUPLICATES = ("manager", "compliance")


def _types(*commands: type[m.Command]) -> frozenset[str]:
    """The ``type`` each of these commands is sent as (what ``check_command`` is given)."""
    return frozenset(command.model_fields["type"].default for command in commands)


# Customer commands a rep records; a manager runs them too, and the rest below.
INTERACTIONS = _types(
    m.RegisterCustomer,
    m.UpdateProfile,
    m.LogContact,
    m.ReceiveRequest,
    m.AnswerRequest,
    m.RegisterForEvent,
    m.ConfirmRegistration,
    m.DeclineRegistration,
    m.RecordAttendance,
    m.IssueQuote,
    m.AcceptQuote,
    m.DeclineQuote,
    m.WithdrawQuote,
    m.MakePromise,
    m.KeepPromise,
    m.BreakPromise,
    m.CancelPromise,
    m.TouchCampaign,
    m.ChangeConsent,
    m.FileComplaint,
    m.EscalateComplaint,
    m.ResolveComplaint,
    m.ReopenComplaint,
    m.RecordSatisfaction,
    m.RecordPurchase,
    m.RecordRefund,
    m.RecordChurn,
    m.RecordWinBack,
)
# Two records of one customer merged, or a merge undone: by a rep or manager who reaches both.
MERGING = _types(m.MergeCustomers, m.UnmergeCustomers)
CORRECTIONS = _types(m.CorrectEntry, m.RetractEntry)
(ERASURE,) = _types(m.ErasePersonalData)
(REGISTRATION,) = _types(m.RegisterCustomer)
(HIRING,) = _types(m.HireRep)
# What only a manager runs on a customer of their team: its owner and team, and the
# deadlines the scheduler otherwise keeps.
MANAGING = (
    _types(
        m.AssignOwner,
        m.MoveResponsibility,
        m.AddTeamMember,
        m.RemoveTeamMember,
        m.ExpireQuote,
        m.MarkPromiseOverdue,
        m.FlagMissedDeadline,
        m.MarkLapsed,
    )
    | CORRECTIONS
)
TEAM_COMMANDS = _types(m.MoveRep, m.DepartRep)  # on a rep of the manager's team
CAMPAIGNS = _types(m.LaunchCampaign, m.RecordCampaignCost, m.CloseCampaign)
# Fields of a command that name a rep: a rep key names only itself there, and a manager
# only reps of their team (a new owner may be anyone: handing a customer on widens nothing).
REP_FIELDS = ("rep", "owner", "manager", "to_rep", "from_rep")
# Fields of a command that name a second customer (a merge's merged record): the key must
# reach it as it reaches the target, so that a merge never widens what it reads.
CUSTOMER_FIELDS = ("merged",)
NAMES_ANYONE = _types(m.AssignOwner)


@dataclass(frozen=True)
class Holders:
    """Who holds a customer now."""

    owner: str | None
    responsible: frozenset[str] = frozenset()  # reps with open work of this customer
    members: frozenset[str] = frozenset()  # reps on the customer's team

    def reps(self) -> frozenset[str]:
        return self.responsible | self.members | ({self.owner} if self.owner else set())

    @classmethod
    def of_records(cls, survivor: Holders, *merged: Holders) -> Holders:
        """Who holds a customer whose records were merged: they are one customer, so whoever
        holds one record (its owner, its open work, its team) holds the customer; the
        survivor's owner is its owner."""
        return cls(
            survivor.owner,
            survivor.responsible.union(*(h.responsible for h in merged)),
            survivor.members.union(
                *(h.members for h in merged), (h.owner for h in merged if h.owner)
            ),
        )


@dataclass(frozen=True)
class Principal:
    """Who asks: a key's name and role and, for a rep or manager, the rep it acts as;
    ``manager_of`` tells a rep's manager now (a manager speaks for the reps they manage)."""

    name: str
    role: str
    rep: str | None = None
    manager_of: Callable[[str], str | None] = field(default=lambda rep: None, compare=False)

    def speaks_for(self, rep: str) -> bool:
        if self.rep is None or self.role not in ("rep", "manager"):
            return False
        return rep == self.rep or (self.role == "manager" and self.manager_of(rep) == self.rep)


def reaches(principal: Principal, holders: Holders | None) -> bool:
    """Whether the principal may read (and, by role, write) this customer."""
    if holders is None:
        return False
    if principal.role == "compliance":
        return True
    return any(principal.speaks_for(rep) for rep in sorted(holders.reps()))


def not_found(ref: str) -> UnknownReference:
    return UnknownReference(
        f"no customer with reference {ref!r} that this key may see; check the reference",
        where="ref",
    )


def check_read(principal: Principal, ref: str, holders: Holders | None) -> None:
    """Refuse a read of this customer: 403 for a role that reads no customers, else 404 for
    one unknown or outside reach alike."""
    if principal.role not in READS_CUSTOMERS:
        raise Forbidden(
            f"{a(principal.role)} key reads no customers; it takes a rep, manager "
            "or compliance key",
            where="ref",
        )
    if not reaches(principal, holders):
        raise not_found(ref)


def check_command(
    principal: Principal,
    kind: str,
    named: dict[str, str | None],
    *,
    target: str,
    ref: str,
    holders: Callable[[], Holders | None],
    rep_manager: Callable[[str], str | None],
    customers: Mapping[str, Callable[[], Holders | None]] | None = None,
) -> None:
    """Refuse (403, or 404 outside reach) a command this principal may not run.

    ``named`` are the command's rep fields; ``holders`` tells who holds the target customer
    (None: unknown); ``rep_manager`` a rep's manager (for a manager's commands on reps);
    ``customers`` who holds each other customer the command names (``CUSTOMER_FIELDS``)."""
    role = principal.role
    if target == "customer" and kind == ERASURE:
        if role not in ("compliance", "admin"):
            raise Forbidden(
                f"erasure is for compliance; {a(role)} key may not erase personal data",
                where="type",
            )
        return _exists(ref, holders())
    if role == "compliance" and kind in CORRECTIONS:
        return _exists(ref, holders())
    if role == "admin" and kind == HIRING:
        return
    if role == "manager" and target == "rep":
        _check_team(principal, kind, named, rep_manager)
        return
    if role == "manager" and kind in CAMPAIGNS:
        return
    if target != "customer" or not (
        (role == "rep" and (kind in INTERACTIONS or kind in MERGING))
        or (role == "manager" and (kind in INTERACTIONS or kind in MANAGING or kind in MERGING))
    ):
        raise Forbidden(f"{a(role)} key may not run {kind}", where="type")
    for name, rep in named.items():
        if rep is not None and not principal.speaks_for(rep) and kind not in NAMES_ANYONE:
            whose = principal.rep if role == "rep" else f"{principal.rep}'s team"
            raise Forbidden(f"{a(role)} key names only {whose} as {name}, not {rep}", where=name)
    if kind != REGISTRATION and not reaches(principal, holders()):
        raise not_found(ref)
    for other, held in (customers or {}).items():
        if not reaches(principal, held()):
            raise not_found(other)


def _check_team(
    principal: Principal,
    kind: str,
    named: dict[str, str | None],
    rep_manager: Callable[[str], str | None],
) -> None:
    """A manager hires reps into their own team, and moves or records the departure of
    the reps they manage."""
    if kind == HIRING:
        if named.get("manager") != principal.rep:
            raise Forbidden(
                f"a manager hires reps into their own team: manager must be {principal.rep}",
                where="manager",
            )
        return
    rep = named.get("rep")
    if kind not in TEAM_COMMANDS or rep is None or principal.rep not in (rep, rep_manager(rep)):
        raise Forbidden(f"{rep} is not in {principal.rep}'s team", where="rep")


def _exists(ref: str, holders: Holders | None) -> None:
    if holders is None:
        raise not_found(ref)
