"""dossier: each rep with the customers they own and have talked to; ``rep_dossier`` adds what
they left open (promises, quotes, complaints, requests) and, once they have departed, the
hand-over list of everything that needs a new owner.

``rep_dossier`` reads the tables of five views, which the runner must keep: promises, quotes,
service, activity (its contacts: who talked to whom, and when) and this one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

from ledger.aggregates import Campaign, Customer, Rep
from ledger.clock import shifted
from ledger.errors import UnknownReference, ViewNotBuilt
from ledger.matching import match_keys
from ledger.projections.activity import Activity
from ledger.projections.base import (
    HandlerView,
    Page,
    View,
    after_key,
    decode_cursor,
    handles,
    keyset_page,
    page_of,
)
from ledger.projections.promises import Promises
from ledger.projections.quotes import Quotes
from ledger.projections.service import (
    OPEN_COMPLAINTS,
    UNANSWERED_REQUESTS,
    Service,
)
from ledger.sealing import blind, blind_tokens, query_tokens, reveal, revealed
from ledger.sql import Database, ViewDb, Writes, iso, parse_iso

INDEXED = frozenset({"name", "email", "phone", "company"})  # what a search finds customers by
NEEDS = "rep_dossier needs the promises, quotes, service, dossier and activity views"


class Dossier(HandlerView):
    name = "dossier"
    tables: ClassVar[dict[str, str]] = {
        "customers": (
            "ref TEXT PRIMARY KEY, name TEXT, kind TEXT NOT NULL, owner TEXT, owner_since TEXT,"
            " registered_at TEXT NOT NULL, churned_at TEXT, churn_id TEXT,"
            " erased {bool} NOT NULL, source TEXT, merged_into TEXT"
        ),
        "reps": (
            "ref TEXT PRIMARY KEY, name TEXT NOT NULL, team TEXT NOT NULL, manager TEXT,"
            " hired_at TEXT NOT NULL, departed_at TEXT, departure_reason TEXT"
        ),
        "owner_history": (
            "customer TEXT NOT NULL, seq {int} NOT NULL, rep TEXT NOT NULL, since TEXT NOT NULL,"
            " until TEXT, reason TEXT, PRIMARY KEY (customer, seq)"
        ),
        # Reps a manager put on a customer's team (beside its owner).
        "team_members": (
            "customer TEXT NOT NULL, rep TEXT NOT NULL, since TEXT NOT NULL,"
            " PRIMARY KEY (customer, rep)"
        ),
        # How a search finds customers by name, e-mail, phone or company: keyed hashes of the
        # values' tokens (ledger/sealing.py), never the text, which the view holds sealed.
        "customer_index": (
            "token TEXT NOT NULL, customer TEXT NOT NULL, field TEXT NOT NULL,"
            " PRIMARY KEY (token, customer, field)"
        ),
        # How the search for duplicates finds candidates: keyed hashes of each customer's
        # normalised phone, e-mail, company and name keys (ledger/matching.py), never the text.
        "match_keys": (
            "customer TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,"
            " PRIMARY KEY (customer, kind, key)"
        ),
        # Every merge of two records of a customer and every unmerge, with who recorded it
        # and why (the reason kept sealed, as the merged record's): what compliance reviews.
        "merge_history": (
            "id TEXT PRIMARY KEY, merged TEXT NOT NULL, survivor TEXT NOT NULL,"
            " action TEXT NOT NULL, occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL,"
            " actor TEXT NOT NULL, reason TEXT"
        ),
    }
    # 2: names and reasons kept sealed, the blind index, team members; 3: owners in
    # business time; 4: the source of a customer, and keys to match duplicates by; 5: a
    # record merged into another says which (it is not listed as owned)
    version = 5
    indexes: ClassVar[list[tuple[str, str]]] = [
        ("customers", "owner, ref"),  # a rep's customers, in order
        ("owner_history", "rep, until, customer"),  # whom a rep handed on, in order
        ("customer_index", "customer"),
        ("team_members", "rep"),
        ("match_keys", "kind, key"),
    ]
    sees_every_kind = True
    ignores = (
        # a customer's interactions and open work: the other views the dossier reads keep
        # them (promises, quotes, service, activity), and who is responsible for it
        Customer.ResponsibilityMoved,
        Customer.ContactLogged,
        Customer.RequestReceived,
        Customer.RequestAnswered,
        Customer.DeadlineMissed,
        Customer.QuoteIssued,
        Customer.QuoteAccepted,
        Customer.QuoteDeclined,
        Customer.QuoteExpired,
        Customer.QuoteWithdrawn,
        Customer.PromiseMade,
        Customer.PromiseKept,
        Customer.PromiseBroken,
        Customer.PromiseCancelled,
        Customer.PromiseMarkedOverdue,
        Customer.CampaignTouched,
        Customer.ConsentChanged,
        Customer.ComplaintFiled,
        Customer.ComplaintEscalated,
        Customer.ComplaintResolved,
        Customer.ComplaintReopened,
        Customer.SatisfactionRecorded,
        Customer.PurchaseRecorded,
        Customer.PurchaseRefunded,
        Customer.Lapsed,  # a lapse is a figure of the reports (activity), not a standing here
        Customer.EntryRetracted,  # a churn, the one entry it keeps, cannot be retracted
        Customer.Merged,  # kept on the merged record's row (MergedInto)
        Customer.Unmerged,
        Campaign.Launched,
        Campaign.CostRecorded,
        Campaign.Closed,
        # registrations for events: the service view keeps them (and the inbox reads them)
        Customer.RegistrationReceived,
        Customer.RegistrationConfirmed,
        Customer.RegistrationDeclined,
        Customer.AttendanceRecorded,
        Campaign.SeatTaken,
        Campaign.SeatReleased,
    )

    # -- customers and owners --------------------------------------------------------------------

    @handles(Customer.Registered)
    def registered(self, db: Writes, e: Customer.Registered, ref: str) -> None:
        db.later(
            "INSERT INTO {customers} VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, NULL)",
            (
                ref,
                e.name,
                e.kind,
                e.owner,
                iso(e.occurred_at) if e.owner else None,
                iso(e.occurred_at),
                False,
                e.source,
            ),
        )
        if e.owner is not None:
            self.new_owner(db, ref, e.owner, e.occurred_at, "registered")
        for field in INDEXED:
            self.index(db, ref, field, reveal(getattr(e, field), self.refs.keys))

    @handles(Customer.ProfileChanged)
    def profile_changed(self, db: Writes, e: Customer.ProfileChanged, ref: str) -> None:
        if "name" in e.changes:
            db.execute("UPDATE {customers} SET name = ? WHERE ref = ?", (e.changes["name"], ref))
        for field in INDEXED.intersection(e.changes):
            db.execute(
                "DELETE FROM {customer_index} WHERE customer = ? AND field = ?", (ref, field)
            )
            db.execute("DELETE FROM {match_keys} WHERE customer = ? AND kind = ?", (ref, field))
            self.index(db, ref, field, reveal(e.changes[field], self.refs.keys))

    def index(self, db: Writes, ref: str, field: str, text: Any) -> None:
        """Find the customer by this field's value (opened): its tokens for a search, its
        normalised keys for matching duplicates; a forgotten customer's opens to nothing."""
        if not isinstance(text, str):
            return
        key = self.refs.index_key
        for token in blind_tokens(key, text):
            db.later("INSERT INTO {customer_index} VALUES (?, ?, ?)", (token, ref, field))
        for found in match_keys(field, text):
            db.later(
                "INSERT INTO {match_keys} VALUES (?, ?, ?)",
                (ref, field, blind(key, f"{field}:{found}")),
            )

    @handles(Customer.TeamMemberAdded)
    def team_member_added(self, db: Writes, e: Customer.TeamMemberAdded, ref: str) -> None:
        db.later("INSERT INTO {team_members} VALUES (?, ?, ?)", (ref, e.rep, iso(e.occurred_at)))

    @handles(Customer.TeamMemberRemoved)
    def team_member_removed(self, db: Writes, e: Customer.TeamMemberRemoved, ref: str) -> None:
        db.execute("DELETE FROM {team_members} WHERE customer = ? AND rep = ?", (ref, e.rep))

    @handles(Customer.OwnerAssigned)
    def owner_assigned(self, db: Writes, e: Customer.OwnerAssigned, ref: str) -> None:
        """In business time: each owner's period ends where the next one (by when it began)
        begins, and the owner now is the one who began last, whenever each was recorded."""
        self.new_owner(db, ref, e.to_rep, e.occurred_at, e.reason)
        db.execute(
            "UPDATE {owner_history} AS h SET until = (SELECT MIN(n.since)"
            " FROM {owner_history} n WHERE n.customer = h.customer AND"
            " (n.since > h.since OR (n.since = h.since AND n.seq > h.seq)))"
            " WHERE h.customer = ?",
            (ref,),
        )
        db.execute(
            "UPDATE {customers} SET owner = (SELECT rep FROM {owner_history}"
            " WHERE customer = ? AND until IS NULL),"
            " owner_since = (SELECT since FROM {owner_history}"
            " WHERE customer = ? AND until IS NULL) WHERE ref = ?",
            (ref, ref, ref),
        )

    @staticmethod
    def new_owner(db: Writes, ref: str, rep: str, since: datetime, reason: str) -> None:
        db.execute(
            "INSERT INTO {owner_history} SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, NULL,"
            " ? FROM {owner_history} WHERE customer = ?",
            (ref, rep, iso(since), reason, ref),
        )

    @handles(Customer.Churned)
    def churned(self, db: Writes, e: Customer.Churned, ref: str) -> None:
        db.execute(
            "UPDATE {customers} SET churned_at = ?, churn_id = ? WHERE ref = ?",
            (iso(e.occurred_at), e.churn_id, ref),
        )

    @handles(Customer.WonBack)
    def won_back(self, db: Writes, e: Customer.WonBack, ref: str) -> None:
        db.execute(
            "UPDATE {customers} SET churned_at = NULL, churn_id = NULL WHERE ref = ?", (ref,)
        )

    @handles(Customer.PersonalDataErased)
    def personal_data_erased(self, db: Writes, e: Customer.PersonalDataErased, ref: str) -> None:
        db.execute("UPDATE {customers} SET name = NULL, erased = ? WHERE ref = ?", (True, ref))
        db.execute("DELETE FROM {customer_index} WHERE customer = ?", (ref,))
        db.execute("DELETE FROM {match_keys} WHERE customer = ?", (ref,))

    @handles(Customer.MergedInto)
    def merged_into(self, db: Writes, e: Customer.MergedInto, ref: str) -> None:
        db.execute("UPDATE {customers} SET merged_into = ? WHERE ref = ?", (e.survivor, ref))
        self.merge_noted(db, e, ref, "merged")

    @handles(Customer.UnmergedFrom)
    def unmerged_from(self, db: Writes, e: Customer.UnmergedFrom, ref: str) -> None:
        db.execute("UPDATE {customers} SET merged_into = NULL WHERE ref = ?", (ref,))
        self.merge_noted(db, e, ref, "unmerged")

    @staticmethod
    def merge_noted(
        db: Writes, e: Customer.MergedInto | Customer.UnmergedFrom, ref: str, action: str
    ) -> None:
        db.later(
            "INSERT INTO {merge_history} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                f"{ref}#{e.originator_version}",
                ref,
                e.survivor,
                action,
                iso(e.occurred_at),
                iso(e.timestamp),
                e.actor,
                e.reason,
            ),
        )

    @handles(Customer.EntryCorrected)
    def entry_corrected(self, db: Writes, e: Customer.EntryCorrected, ref: str) -> None:
        if "occurred_at" in e.fields:
            db.execute(
                "UPDATE {customers} SET churned_at = ? WHERE ref = ? AND churn_id = ?",
                (iso(e.fields["occurred_at"]), ref, e.entry_id),
            )

    # -- reps -------------------------------------------------------------------------------------

    @handles(Rep.Hired)
    def hired(self, db: Writes, e: Rep.Hired, ref: str) -> None:
        db.later(
            "INSERT INTO {reps} VALUES (?, ?, ?, ?, ?, NULL, NULL)",
            (ref, e.name, e.team, e.manager, iso(e.occurred_at)),
        )

    @handles(Rep.MovedTeam)
    def moved_team(self, db: Writes, e: Rep.MovedTeam, ref: str) -> None:
        db.execute(
            "UPDATE {reps} SET team = ?, manager = ? WHERE ref = ?", (e.team, e.manager, ref)
        )

    @handles(Rep.Departed)
    def departed(self, db: Writes, e: Rep.Departed, ref: str) -> None:
        db.execute(
            "UPDATE {reps} SET departed_at = ?, departure_reason = ? WHERE ref = ?",
            (iso(e.occurred_at), e.reason, ref),
        )


# -- the dossier ---------------------------------------------------------------------------------


def needed_views() -> list[View]:
    return [Promises(), Quotes(), Service(), Dossier(), Activity()]


# Each list of a dossier: (query, order); the query's parameters are the rep and, where it
# says "retracted = ?", False.
LISTS: dict[str, tuple[str, str]] = {
    # (A record merged into another is the survivor's: its owner owns the customer.)
    "customers_owned": (
        "SELECT ref AS customer, name, owner_since, churned_at, erased FROM {customers}"
        " WHERE owner = ? AND merged_into IS NULL",
        "customer",
    ),
    "customers_handed_on": (
        "SELECT h.customer, c.name, h.since, h.until, c.owner AS now_owned_by"
        " FROM {owner_history} h LEFT JOIN {customers} c ON c.ref = h.customer"
        " WHERE h.rep = ? AND h.until IS NOT NULL",
        "h.until, h.customer",
    ),
    "customers_touched": (
        "SELECT rc.customer, c.name, c.owner, rc.contacts, rc.first_contact_at,"
        " rc.last_contact_at FROM {rep_contacts} rc LEFT JOIN {customers} c"
        " ON c.ref = rc.customer WHERE rc.rep = ?",
        "rc.last_contact_at DESC, rc.customer",
    ),
    # Open work the rep is responsible for now: their own, and what was handed to them (each
    # saying who made it, and when and by whom it was handed over).
    "open_promises": (
        "SELECT customer, promise_id, text, category, made_at, due_by, status, quote_id,"
        " complaint_id, rep AS made_by, handed_at, handed_by FROM {promises}"
        " WHERE responsible = ? AND status IN ('open', 'overdue') AND retracted = ?",
        "due_by, customer, promise_id",
    ),
    "open_quotes": (
        "SELECT *, rep AS made_by FROM {quotes} WHERE responsible = ? AND status = 'open'"
        " AND retracted = ?",
        "valid_until, customer, quote_id",
    ),
    "open_complaints": OPEN_COMPLAINTS,
    "unanswered_requests": UNANSWERED_REQUESTS,
    # Customers from a list or a stack of cards (a source) whom nobody has contacted within
    # FOLLOW_UP_DAYS of their registration, by "now": a contact recorded late counts from
    # when it happened.
    "cards_not_followed_up": (
        "SELECT ref AS customer, name, source, registered_at FROM {customers} c"
        " WHERE owner = ? AND source IS NOT NULL AND erased = ? AND merged_into IS NULL"
        " AND registered_at < ?"
        " AND NOT EXISTS (SELECT 1 FROM {contacts} k WHERE k.customer = c.ref"
        " AND k.retracted = ? AND k.occurred_at <= ?)",
        "registered_at, customer",
    ),
}
SECTIONS = (*LISTS, "handover")
FOLLOW_UP_DAYS = 14  # days in which a customer from a source is to be contacted


def rep_dossier(
    db: Database, rep: str, *, as_of: datetime, limit: int | None = None
) -> dict[str, Any]:
    """What a rep owns, has touched and has left open; for a departed rep, the hand-over list
    (most urgent first). ``as_of`` is "now" for deadlines: what is overdue, what has lapsed.
    ``limit``: the first that many of each list (``totals`` counts them all; ``dossier_page``
    reads further); None, all of them.

    Needs the promises, quotes, service, dossier and activity views (``ViewNotBuilt`` names a
    missing one); ``UnknownReference`` if the rep was never hired.
    """
    now = iso(as_of)
    assert now is not None
    with reading(db) as tx:
        person = rep_row(tx, rep)
        found: dict[str, Any] = {"rep": person, "as_of": now, "last_contact_at": None}
        found.update((name, listed(tx, rep, name, now, 0, limit)) for name in LISTS)
        if found["customers_touched"]:  # the customer contacted last comes first
            found["last_contact_at"] = found["customers_touched"][0]["last_contact_at"]
        found["totals"] = {
            name: (
                len(found[name])
                if limit is None or len(found[name]) < limit
                else count(tx, rep, name, now)
            )
            for name in LISTS
        }
        handover = handover_of(tx, person, now) if person["departed"] else []
        if person["departed"]:
            found["handover_progress"] = progress_of(tx, person, handover)
    found["handover"] = handover if limit is None else handover[:limit]
    found["totals"]["handover"] = len(handover)
    return revealed(db, found)  # type: ignore[no-any-return]


def progress_of(tx: ViewDb, person: dict[str, Any], remaining: list[Any]) -> dict[str, int]:
    """How far a departed rep's hand-over has come: what is left (``remaining``, their
    hand-over list) and what has been handed on."""
    return {"remaining": len(remaining), "handed_on": handed_on(tx, person)}


def handed_on(tx: ViewDb, person: dict[str, Any]) -> int:
    """What a departed rep's hand-over is done with: open work they made that another rep
    answers for now, and customers they owned at their departure that have a new owner."""
    rep = person["ref"]
    work = tx.one(
        f"SELECT COUNT(*) AS n FROM ({OPEN_WORK}) w WHERE w.made_by = ? AND w.responsible <> ?",
        (False, False, False, False, rep, rep),
    )
    customers = tx.one(
        "SELECT COUNT(DISTINCT customer) AS n FROM {owner_history} WHERE "
        "rep = ? AND until IS NOT NULL AND until >= ?",
        (rep, person["departed_at"]),
    )
    return int(work["n"] if work else 0) + int(customers["n"] if customers else 0)


def dossier_page(
    db: Database, rep: str, section: str, *, as_of: datetime, offset: int = 0, limit: int = 100
) -> dict[str, Any]:
    """One list of the dossier (a name of ``SECTIONS``), ``limit`` rows from ``offset``, and
    how many there are in all."""
    now = iso(as_of)
    assert now is not None
    with reading(db) as tx:
        person = rep_row(tx, rep)
        if section == "handover":
            every = handover_of(tx, person, now) if person["departed"] else []
            items, total = every[offset : offset + limit], len(every)
        else:
            items = listed(tx, rep, section, now, offset, limit)
            total = count(tx, rep, section, now) if items or offset else 0
    return {
        "rep": rep,
        "section": section,
        "as_of": now,
        "offset": offset,
        "total": total,
        "items": revealed(db, items),
    }


def rep_handover(db: Database, rep: str, *, as_of: datetime) -> dict[str, Any]:
    """The rep and, if they departed, everything that needs a new owner (``rep_dossier``'s
    ``handover``, without the rest of the dossier)."""
    now = iso(as_of)
    assert now is not None
    with reading(db) as tx:
        person = rep_row(tx, rep)
        items = handover_of(tx, person, now) if person["departed"] else []
        progress = progress_of(tx, person, items) if person["departed"] else None
    return {"rep": person, "as_of": now, "handover": items, "handover_progress": progress}


@contextmanager
def reading(db: Database) -> Iterator[ViewDb]:
    """One snapshot of the five views' tables, each checked to exist."""
    views = needed_views()
    tables = {k: v for view in views for k, v in view.table_names().items()}
    with db.transaction(tables, commit=False) as tx:
        for view in views:
            if not all(db.table_exists(tx, name) for name in view.table_names().values()):
                raise ViewNotBuilt(
                    f"the {view.name} view has not been built: {NEEDS}; run "
                    "the projection runner with them",
                    where="rep_dossier",
                )
        yield tx


def rep_row(tx: ViewDb, rep: str) -> dict[str, Any]:
    person = tx.one("SELECT * FROM {reps} WHERE ref = ?", (rep,))
    if person is None:
        raise UnknownReference(f"no rep {rep} has been hired; check the reference", where="rep")
    return {
        "ref": person["ref"],
        "name": person["name"],
        "team": person["team"],
        "manager": person["manager"],
        "hired_at": person["hired_at"],
        "departed": person["departed_at"] is not None,
        "departed_at": person["departed_at"],
        "departure_reason": person["departure_reason"],
    }


def listed(
    tx: ViewDb, rep: str, name: str, now: str, offset: int, limit: int | None
) -> list[dict[str, Any]]:
    """Rows ``offset`` to ``offset + limit`` of one list (all from ``offset`` if no limit),
    with what follows from "now": overdue, lapsed."""
    query, order = LISTS[name]
    window = () if limit is None else (limit, offset)
    assert limit is not None or not offset
    rows = tx.rows(
        f"{query} ORDER BY {order}{' LIMIT ? OFFSET ?' if window else ''}",
        (*parameters(rep, name, now), *window),
    )
    if name == "customers_owned":
        with_contacts(tx, rep, rows)
    for row in rows:
        if name == "open_promises":
            row["overdue"] = row["status"] == "overdue" or row["due_by"] < now
        elif name == "open_quotes":
            row.pop("retracted", None)
            row["lapsed"] = row["valid_until"] < now
        elif name in ("open_complaints", "unanswered_requests"):
            row["overdue"] = row["respond_by"] is not None and row["respond_by"] < now
    return rows


# How lists that join another table for what they show are counted, without the join.
COUNTS = {
    "customers_touched": "SELECT COUNT(*) AS n FROM {rep_contacts} WHERE rep = ?",
    "customers_handed_on": (
        "SELECT COUNT(*) AS n FROM {owner_history} WHERE rep = ? AND until IS NOT NULL"
    ),
}


def count(tx: ViewDb, rep: str, name: str, now: str) -> int:
    query = LISTS[name][0]
    counting = COUNTS.get(name, f"SELECT COUNT(*) AS n FROM ({query}) counted")
    found = tx.one(counting, parameters(rep, name, now))
    return int(found["n"]) if found else 0


def parameters(rep: str, name: str, now: str) -> tuple[Any, ...]:
    if name == "cards_not_followed_up":
        return (rep, False, follow_up_cutoff(now, FOLLOW_UP_DAYS), False, now)
    return (rep, False) if "retracted = ?" in LISTS[name][0] else (rep,)


def follow_up_cutoff(now: str, days: int) -> str:
    """Registrations before this were due a contact by ``now``."""
    moment = parse_iso(now)
    assert moment is not None
    try:
        found = iso(moment - timedelta(days=days))
    except OverflowError:  # before the calendar's first day: no registration is
        found = iso(datetime.min.replace(tzinfo=timezone.utc))
    assert found is not None
    return found


def with_contacts(tx: ViewDb, rep: str, owned: list[dict[str, Any]]) -> None:
    """Add to each owned customer the last contact by this rep and by anyone."""
    if not owned:
        return
    refs = [customer["customer"] for customer in owned]
    contacts: dict[str, list[dict[str, Any]]] = {}
    marks = ", ".join("?" for _ in refs)
    for row in tx.rows(f"SELECT * FROM {{rep_contacts}} WHERE customer IN ({marks})", refs):
        contacts.setdefault(row["customer"], []).append(row)
    for customer in owned:
        customer["erased"] = bool(customer["erased"])
        by = contacts.get(customer["customer"], [])
        mine = next((c for c in by if c["rep"] == rep), None)
        last = max(by, key=lambda c: (c["last_contact_at"], c["rep"]), default=None)
        customer.update(
            contacts_by_rep=mine["contacts"] if mine else 0,
            last_contact_by_rep_at=mine["last_contact_at"] if mine else None,
            last_contact_at=last["last_contact_at"] if last else None,
            last_contact_by=last["rep"] if last else None,
        )


def handover_of(tx: ViewDb, person: dict[str, Any], now: str) -> list[dict[str, Any]]:
    """A departed rep's hand-over list, from all of what they own and left open."""
    rep = person["ref"]
    found = {
        name: listed(tx, rep, name, now, 0, None)
        for name in ("open_promises", "open_quotes", "open_complaints", "unanswered_requests")
    }
    # Who the owned customers are is all the list needs (not their contacts).
    found["customers_owned"] = tx.rows(
        "SELECT ref AS customer FROM {customers} WHERE owner = ? AND merged_into IS NULL"
        " ORDER BY ref",
        (rep,),
    )
    reps = {r["ref"]: r for r in tx.rows("SELECT ref, team, manager, departed_at FROM {reps}")}
    customers = {i["customer"] for items in found.values() for i in items}
    owners = owners_of(tx, customers)
    return handover(person, found, reps, owners, knowers(tx, customers, reps, person, now))


# How much each thing a rep has to do with a customer counts towards suggesting them.
KNOWS = {"contact": 3, "quote": 2, "team_member": 5, "same_team": 2, "manager": 1}
LOAD = 20  # open items that weigh as much as one contact's worth, against a suggestion


def knowers(
    tx: ViewDb,
    customers: set[str],
    reps: dict[str, dict[str, Any]],
    person: dict[str, Any],
    now: str,
) -> dict[str, tuple[str, str] | None]:
    """For each customer, the rep to suggest as its new owner and why: ranked from who knows
    the customer (contacts in the last year, quotes, its team), the departed rep's team, and
    each rep's current load of open work. Only reps who have not departed by ``now``."""
    if not customers:
        return {}
    active = {ref for ref, r in reps.items() if not r["departed_at"] or r["departed_at"] > now}
    refs = sorted(customers)
    marks = ", ".join("?" for _ in refs)
    year_ago = iso(shifted(parse_iso(now) or datetime.now(timezone.utc), -365))
    contacts = tx.rows(
        f"SELECT customer, rep, COUNT(*) AS n, MIN(occurred_at) AS since FROM "
        f"{{contacts}} WHERE customer IN ({marks}) AND retracted = ? AND "
        "occurred_at >= ? GROUP BY customer, rep",
        (*refs, False, year_ago),
    )
    quotes = tx.rows(
        f"SELECT customer, rep, COUNT(*) AS n FROM {{quotes}} WHERE customer IN "
        f"({marks}) AND retracted = ? GROUP BY customer, rep",
        (*refs, False),
    )
    members = tx.rows(
        f"SELECT customer, rep FROM {{team_members}} WHERE customer IN ({marks})", refs
    )
    load = {
        row["responsible"]: int(row["n"])
        for row in tx.rows(
            f"SELECT responsible, COUNT(*) AS n FROM ({OPEN_WORK}) w GROUP BY responsible",
            (False, False, False, False),
        )
    }
    team, manager = person["team"], person["manager"]
    score: dict[str, dict[str, float]] = {c: {} for c in customers}
    why: dict[tuple[str, str], list[str]] = {}
    for row in contacts:
        score[row["customer"]][row["rep"]] = KNOWS["contact"] * int(row["n"])
        why[row["customer"], row["rep"]] = [f"{row['n']} contacts since {day(row['since'])}"]
    for row in quotes:
        score[row["customer"]][row["rep"]] = score[row["customer"]].get(row["rep"], 0) + KNOWS[
            "quote"
        ] * int(row["n"])
        why.setdefault((row["customer"], row["rep"]), []).append(f"{row['n']} quotes")
    for row in members:
        score[row["customer"]][row["rep"]] = (
            score[row["customer"]].get(row["rep"], 0) + KNOWS["team_member"]
        )
        why.setdefault((row["customer"], row["rep"]), []).append("on its team")
    colleagues = [ref for ref, r in reps.items() if r["team"] == team]
    found: dict[str, tuple[str, str] | None] = {}
    for customer, known in score.items():
        for ref in {*known, *colleagues, *([manager] if manager else [])}:
            bonus = (KNOWS["same_team"] if ref in colleagues else 0) + (
                KNOWS["manager"] if ref == manager else 0
            )
            known[ref] = known.get(ref, 0) + bonus
        ranked = sorted(
            (
                (points - load.get(ref, 0) / LOAD, ref)
                for ref, points in known.items()
                if ref in active and ref != person["ref"]
            ),
            key=lambda r: (-r[0], r[1]),
        )
        if not ranked:
            found[customer] = None
            continue
        ref = ranked[0][1]
        reasons = [
            *why.get((customer, ref), []),
            *(["same team"] if ref in colleagues else []),
            *(["the departed rep's manager"] if ref == manager else []),
            f"{load.get(ref, 0)} open items",
        ]
        found[customer] = (ref, ", ".join(reasons))
    return found


def owners_of(tx: ViewDb, customers: set[str]) -> dict[str, str | None]:
    if not customers:
        return {}
    refs = sorted(customers)
    marks = ", ".join("?" for _ in refs)
    return {
        row["ref"]: row["owner"]
        for row in tx.rows(f"SELECT ref, owner FROM {{customers}} WHERE ref IN ({marks})", refs)
    }


def handover(
    rep: dict[str, Any],
    found: dict[str, Any],
    reps: dict[str, dict[str, Any]],
    owners: dict[str, str | None],
    ranked: dict[str, tuple[str, str] | None],
) -> list[dict[str, Any]]:
    """Everything a departed rep leaves that needs a new owner: overdue first, then by due
    date, then what has no due date (the customers they owned). The suggestion for an item
    of a customer another rep owns (and is still there) is that owner; otherwise the rep
    ranked first for the customer (``knowers``), with the reason."""

    def suggested(customer: str) -> tuple[str | None, str | None]:
        owner = owners.get(customer)
        if owner is not None and owner != rep["ref"] and not reps.get(owner, {}).get("departed_at"):
            return owner, "owns the customer"
        best = ranked.get(customer)
        return best if best is not None else (None, None)

    def item(
        customer: str, what: str, entry_id: str, due: str | None, overdue: bool, why: str
    ) -> dict[str, Any]:
        owner, reason = suggested(customer)
        return {
            "customer": customer,
            "what": what,
            "id": entry_id,
            "due": due,
            "overdue": overdue,
            "why": why,
            "suggested_owner": owner,
            "suggested_because": reason,
        }

    items = [
        item(
            c["customer"],
            "owned customer",
            c["customer"],
            None,
            False,
            f"owner departed {day(rep['departed_at'])}",
        )
        for c in found["customers_owned"]
    ]
    for p in found["open_promises"]:
        why = (
            f"promise overdue since {day(p['due_by'])}"
            if p["overdue"]
            else f"promise due {day(p['due_by'])}"
        )
        items.append(
            item(
                p["customer"],
                "open promise",
                p["promise_id"],
                p["due_by"],
                p["overdue"],
                f"{why} made by departed rep",
            )
        )
    for q in found["open_quotes"]:
        why = (
            f"quote lapsed {day(q['valid_until'])} but still open"
            if q["lapsed"]
            else f"quote valid until {day(q['valid_until'])}"
        )
        items.append(
            item(
                q["customer"],
                "open quote",
                q["quote_id"],
                q["valid_until"],
                q["lapsed"],
                f"{why}, issued by departed rep",
            )
        )
    for c in found["open_complaints"]:
        why = (
            "complaint"
            if c["respond_by"] is None
            else f"complaint response overdue since {day(c['respond_by'])}"
            if c["overdue"]
            else f"complaint response due {day(c['respond_by'])}"
        )
        items.append(
            item(
                c["customer"],
                "open complaint",
                c["complaint_id"],
                c["respond_by"],
                c["overdue"],
                f"{why}, handled by departed rep",
            )
        )
    for r in found["unanswered_requests"]:
        why = (
            f"{r['kind']} request overdue since {day(r['respond_by'])}"
            if r["overdue"]
            else f"{r['kind']} request due {day(r['respond_by'])}"
        )
        items.append(
            item(
                r["customer"],
                "unanswered request",
                r["request_id"],
                r["respond_by"],
                r["overdue"],
                f"{why}, assigned to departed rep",
            )
        )
    items.sort(
        key=lambda i: (
            not i["overdue"],
            i["due"] is None,
            i["due"] or "",
            i["customer"],
            i["what"],
            i["id"],
        )
    )
    return items


def day(when: str | None) -> str:
    return (when or "")[:10]


# -- finding customers ---------------------------------------------------------------------------


def find_customers(
    db: Database, text: str, *, index_key: bytes, reps: Sequence[str] | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Customers whose reference contains the text (any case), or whose name, e-mail, phone or
    company has every word of it (a word, its beginning, or Chinese characters in it), found
    through the blind index; with ``reps``, only the customers they hold."""
    wanted = sorted(blind(index_key, token) for token in query_tokens(text))
    where = ["lower(ref) LIKE ?"]
    params: list[Any] = [f"%{text.lower()}%"]
    if wanted:
        where.append(
            f"ref IN (SELECT customer FROM {{customer_index}} WHERE token IN "
            f"({', '.join('?' * len(wanted))}) GROUP BY customer "
            "HAVING COUNT(DISTINCT token) = ?)"
        )
        params += [*wanted, len(wanted)]
    reach = ""
    if reps is not None:
        held, more = reached_by(reps) if reps else ("SELECT NULL", [])
        reach, params = f" AND ref IN ({held})", [*params, *more]
    tables = {k: v for view in needed_views() for k, v in view.table_names().items()}
    with db.transaction(tables, commit=False, snapshot=False) as tx:
        rows = tx.rows(
            f"SELECT ref, name, owner, churned_at, erased, merged_into FROM {{customers}} "
            f"WHERE ({' OR '.join(where)}){reach} ORDER BY ref LIMIT ?",
            (*params, limit),
        )
    return revealed(db, rows)  # type: ignore[no-any-return]


# -- who may see what --------------------------------------------------------------------------


def reached_by(reps: Sequence[str]) -> tuple[str, list[Any]]:
    """SQL for the customers these reps hold (``ledger/authorization.py``): own, have open
    work of theirs, or are on the team of; and its parameters. Reads the dossier's, promises',
    quotes' and service's tables."""
    marks = ", ".join("?" * len(reps))
    return (
        f"SELECT ref AS customer FROM {{customers}} WHERE owner IN ({marks})"
        f" UNION SELECT customer FROM {{team_members}} WHERE rep IN ({marks})"
        f" UNION SELECT customer FROM {{promises}} WHERE rep IN ({marks})"
        " AND status IN ('open', 'overdue') AND retracted = ?"
        f" UNION SELECT customer FROM {{quotes}} WHERE rep IN ({marks})"
        " AND status = 'open' AND retracted = ?"
        f" UNION SELECT customer FROM {{requests}} WHERE rep IN ({marks})"
        " AND status = 'open' AND retracted = ?"
        f" UNION SELECT customer FROM {{complaints}} WHERE rep IN ({marks})"
        " AND status = 'open' AND retracted = ?",
        [*reps, *reps, *reps, False, *reps, False, *reps, False, *reps, False],
    )


def merges(
    db: Database, *, customer: str | None = None, limit: int = 100, cursor: str | None = None
) -> Page:
    """Every merge of two records of a customer and every unmerge (of ``customer`` as the
    survivor, if given), in the order they happened: which record into which, when, who
    recorded it and why."""
    return keyset_page(
        db,
        Dossier().table_names(),
        "merge_history",
        {"survivor": customer},
        ("occurred_at", "id"),
        limit,
        cursor,
    )


def rep_of(db: Database, rep: str) -> dict[str, Any] | None:
    """A rep's row (ref, name, team, manager, hired_at, departed_at), or None."""
    with db.transaction(Dossier().table_names(), commit=False, snapshot=False) as tx:
        return tx.one("SELECT * FROM {reps} WHERE ref = ?", (rep,))


def team_of(db: Database, manager: str) -> set[str]:
    """The manager and every rep they manage."""
    with db.transaction(Dossier().table_names(), commit=False, snapshot=False) as tx:
        rows = tx.rows("SELECT ref FROM {reps} WHERE manager = ?", (manager,))
    return {manager, *(row["ref"] for row in rows)}


# -- orphaned work ---------------------------------------------------------------------------

# Open work whose responsible rep has departed (by the time asked about): nobody answers for
# it until a manager hands it on (or the scheduler raises it to the rep's manager when it
# falls overdue). ``due``: its deadline (a complaint may have none).
OPEN_WORK = """
SELECT 'promise' AS item, customer, promise_id AS id, rep AS made_by, responsible,
  due_by AS due FROM {promises} WHERE status IN ('open', 'overdue') AND retracted = ?
UNION ALL
SELECT 'quote', customer, quote_id, rep, responsible, valid_until FROM {quotes}
  WHERE status = 'open' AND retracted = ?
UNION ALL
SELECT 'request', customer, request_id, rep, responsible, respond_by FROM {requests}
  WHERE status = 'open' AND retracted = ?
UNION ALL
SELECT 'complaint', customer, complaint_id, rep, responsible, respond_by FROM {complaints}
  WHERE status = 'open' AND retracted = ?"""
ORPHANED = f"""
SELECT w.item, w.customer, w.id, w.made_by, w.responsible, w.due,
  COALESCE(w.due, '~') AS sort_due, r.departed_at, r.manager
FROM ({OPEN_WORK}) w JOIN {{reps}} r ON r.ref = w.responsible
WHERE r.departed_at IS NOT NULL AND r.departed_at <= ?"""
ORPHANED_KEY = ("sort_due", "item", "customer", "id")


def orphaned_rows(
    tx: ViewDb, as_of: str, where: str = "", params: Sequence[Any] = (), limit: int | None = None
) -> list[dict[str, Any]]:
    """Orphaned work at ``as_of``, soonest due first (no deadline last)."""
    statement = f"SELECT * FROM ({ORPHANED}) o {where} ORDER BY {', '.join(ORPHANED_KEY)}" + (
        " LIMIT ?" if limit is not None else ""
    )
    rows = tx.rows(
        statement,
        (False, False, False, False, as_of, *params, *(() if limit is None else (limit,))),
    )
    for row in rows:
        row["overdue"] = row["due"] is not None and row["due"] < as_of
    return rows


def orphaned_items(
    db: Database, *, as_of: datetime, limit: int = 100, cursor: str | None = None
) -> Page:
    """Open work whose responsible rep had departed by ``as_of`` and that nobody took over,
    soonest due first; each with who made it, who was responsible and their manager."""
    now = iso(as_of)
    assert now is not None
    where, params = "", list[Any]()
    after = decode_cursor(cursor, (str,) * len(ORPHANED_KEY))
    if after:
        condition, params = after_key(ORPHANED_KEY, after)
        where = f"WHERE {condition}"
    with reading(db) as tx:
        rows = orphaned_rows(tx, now, where, params, limit + 1)
    page = page_of(rows, limit, ORPHANED_KEY)
    for row in page.items:
        del row["sort_due"]
    return page


INBOX_KEY = ("due", "item", "customer", "id")


def service_inbox(
    db: Database,
    *,
    as_of: datetime,
    rep: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
    follow_up_days: int = FOLLOW_UP_DAYS,
) -> Page:
    """Requests unanswered, complaints unresolved and registrations for events neither
    confirmed nor declined at ``as_of`` whose deadline had passed, oldest deadline first; with
    ``rep``, only those assigned (or escalated) to that rep (a registration is its
    customer's owner's unless it named a rep).

    With them, customers from a source (a stack of cards, a fair's list) that nobody had
    contacted by ``as_of`` though they were registered ``follow_up_days`` before it (item
    ``card``, the customer's source as ``what``, due ``follow_up_days`` after registering;
    with ``rep``, those the rep owns). Cards need the dossier and activity views: without
    them, the inbox has none."""
    now = iso(as_of)
    request_where, complaint_where, registration_where = "", "", ""
    params: list[Any] = [False, now, now, now]
    if rep is not None:
        request_where = " AND r.responsible = ?"
        params.append(rep)
    params += [False, now, now, now]
    if rep is not None:
        complaint_where = " AND (c.responsible = ? OR c.escalated_to = ?)"
        params += [rep, rep]
    params += [now, now, now]
    if rep is not None:
        registration_where = " AND g.responsible = ?"
        params.append(rep)
    tables = {**Service().table_names(), **Dossier().table_names(), **Activity().table_names()}
    outer, after = "", decode_cursor(cursor, (str,) * len(INBOX_KEY))
    with db.transaction(tables, commit=False) as tx:
        cards = ""
        if db.table_exists(tx, tables["customers"]) and db.table_exists(tx, tables["contacts"]):
            assert now is not None
            cards, more = cards_due(tx, now, rep, follow_up_days)
            params += more
        if after:
            outer, more = after_key(INBOX_KEY, after)
            outer = f"WHERE {outer}"
            params += more
        rows = tx.rows(
            "SELECT * FROM ("
            " SELECT 'request' AS item, r.customer, r.request_id AS id, r.kind AS what, r.rep,"
            "  r.responsible, NULL AS escalated_to, r.received_at AS opened_at,"
            "  r.respond_by AS due"
            " FROM {requests} r WHERE r.retracted = ? AND r.received_at <= ?"
            "  AND r.respond_by < ? AND (r.answered_at IS NULL OR r.answered_at > ?)"
            f"{request_where}"
            " UNION ALL"
            " SELECT 'complaint' AS item, c.customer, c.complaint_id AS id, c.category AS what,"
            "  c.rep, c.responsible, c.escalated_to, p.opened_at, c.respond_by AS due"
            " FROM {complaints} c JOIN {complaint_periods} p ON p.customer = c.customer"
            "  AND p.complaint_id = c.complaint_id"
            " WHERE c.retracted = ? AND c.respond_by < ? AND p.opened_at <= ?"
            "  AND (p.closed_at IS NULL OR p.closed_at > ?)"
            f"{complaint_where}"
            " UNION ALL"
            " SELECT 'registration' AS item, g.customer, g.registration_id AS id,"
            "  g.campaign AS what, g.rep, g.responsible, NULL AS escalated_to,"
            "  g.registered_at AS opened_at, g.respond_by AS due"
            " FROM {registrations} g WHERE g.registered_at <= ? AND g.respond_by < ?"
            "  AND (g.answered_at IS NULL OR g.answered_at > ?)"
            f"{registration_where}"
            f"{cards}"
            f") items {outer} ORDER BY due, item, customer, id LIMIT ?",
            (*params, limit + 1),
        )
    page = page_of(rows, limit, INBOX_KEY)
    departed = departed_by(db, now)
    for row in page.items:
        row["orphaned"] = row["responsible"] in departed  # nobody took it over
        due = parse_iso(row["due"])
        assert due is not None
        late = as_of - due
        row["overdue_days"] = late.days
        row["overdue_hours"] = int(late.total_seconds() // 3600)
    return page


def cards_due(tx: ViewDb, now: str, rep: str | None, days: int) -> tuple[str, list[Any]]:
    """The inbox's part (SQL to add to its union, and its parameters) of customers from a
    source not contacted ``days`` after their registration, by ``now``; due then."""
    params: list[Any] = [days, False, follow_up_cutoff(now, days)]
    owned = ""
    if rep is not None:
        owned = " AND c.owner = ?"
        params.append(rep)
    params += [False, now]
    return (
        " UNION ALL"
        " SELECT 'card' AS item, c.ref AS customer, c.ref AS id, c.source AS what,"
        "  c.owner AS rep, c.owner AS responsible, NULL AS escalated_to,"
        f"  c.registered_at AS opened_at, {days_after(tx, 'c.registered_at')} AS due"
        " FROM {customers} c WHERE c.source IS NOT NULL AND c.erased = ?"
        " AND c.merged_into IS NULL"
        f"  AND c.registered_at < ?{owned}"
        "  AND NOT EXISTS (SELECT 1 FROM {contacts} k WHERE k.customer = c.ref"
        "  AND k.retracted = ? AND k.occurred_at <= ?)",
        params,
    )


def days_after(tx: ViewDb, column: str) -> str:
    """SQL for the time (ISO text, as ``iso`` writes it) a number of days (the parameter)
    after the time in ``column``, in the same form, on either engine."""
    if tx.postgres:
        shifted = (
            f"to_char((({column})::timestamptz + make_interval(days => ?::int))"
            " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        )
    else:
        shifted = f"strftime('%Y-%m-%dT%H:%M:%S', {column}, '+' || ? || ' days')"
    return f"{shifted} || substr({column}, 20)"


def departed_by(db: Database, moment: str | None) -> set[str]:
    """The reps who had departed by ``moment`` (the dossier view's; none if not built)."""
    tables = Dossier().table_names()
    with db.transaction(tables, commit=False, snapshot=False) as tx:
        if not db.table_exists(tx, tables["reps"]):
            return set()
        return {
            row["ref"]
            for row in tx.rows(
                "SELECT ref FROM {reps} WHERE departed_at IS NOT NULL AND departed_at <= ?",
                (moment,),
            )
        }
