"""activity: what the analytics figures are computed from, in business time, corrections
applied: purchases, changes of a customer's standing (churned, won back), satisfaction
surveys (with their CSM), complaints and how they ended, contacts (channel, direction),
campaign touches, and campaigns with their budget and costs.

The figures themselves (retention per period, ...) are computed from these rows when they are
asked for (replay/reports.py), for any period and from the live view or a replay alike.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from ledger.aggregates import Campaign, Customer, Rep
from ledger.commands.fields import LEVEL_SCORES, Level
from ledger.projections.base import MERGES, ORIGIN, MergingView, handles, move_records
from ledger.sql import Writes, iso, money

# Per table: the column holding the entry id, and corrected field -> column.
CORRECTABLE: dict[str, tuple[str, dict[str, str]]] = {
    "purchases": (
        "order_id",
        {
            "amount": "amount",
            "currency": "currency",
            "cost": "cost",
            "rep": "rep",
            "occurred_at": "occurred_at",
        },
    ),
    "refunds": (
        "refund_id",
        {"amount": "amount", "currency": "currency", "occurred_at": "occurred_at"},
    ),
    "standing": (
        "entry_id",
        {
            "defection_type": "defection_type",
            "competitor": "competitor",
            "occurred_at": "occurred_at",
        },
    ),
    "surveys": ("survey_id", {"product": "product", "rep": "rep", "occurred_at": "occurred_at"}),
    "resolutions": ("complaint_id", {"occurred_at": "filed_at"}),
    "contacts": (
        "contact_id",
        {
            "rep": "rep",
            "channel": "channel",
            "direction": "direction",
            "occurred_at": "occurred_at",
        },
    ),
    "campaign_touches": ("touch_id", {"occurred_at": "occurred_at"}),
}
RETRACTABLE = ("purchases", "refunds", "surveys", "resolutions", "contacts", "campaign_touches")


class Activity(MergingView):
    name = "activity"
    tables: ClassVar[dict[str, str]] = {
        "purchases": (
            "customer TEXT NOT NULL, order_id TEXT NOT NULL, occurred_at TEXT NOT NULL,"
            " amount TEXT NOT NULL, currency TEXT NOT NULL, cost TEXT, rep TEXT,"
            " retracted {bool} NOT NULL, " + ORIGIN + ", PRIMARY KEY (customer, order_id)"
        ),
        # Money given back: not purchases (no report counts one as an order), netted in value.
        "refunds": (
            "customer TEXT NOT NULL, refund_id TEXT NOT NULL, order_id TEXT,"
            " occurred_at TEXT NOT NULL, amount TEXT NOT NULL, currency TEXT NOT NULL,"
            " retracted {bool} NOT NULL, " + ORIGIN + ", PRIMARY KEY (customer, refund_id)"
        ),
        # kind: churned (entry_id: the churn's id), lapsed (defection_type 'lapsed': no
        # purchase or contact since quiet_since, until a purchase) or won_back
        "standing": (
            "customer TEXT NOT NULL, version {int} NOT NULL, kind TEXT NOT NULL,"
            " entry_id TEXT, occurred_at TEXT NOT NULL, defection_type TEXT,"
            " competitor TEXT, quiet_since TEXT, " + ORIGIN + ", PRIMARY KEY (origin, version)"
        ),
        # csm: the mean of the items' scores on the 7-level scale (90 ... -90)
        "surveys": (
            "customer TEXT NOT NULL, survey_id TEXT NOT NULL, occurred_at TEXT NOT NULL,"
            " product TEXT, rep TEXT, items {int} NOT NULL, csm TEXT NOT NULL,"
            " retracted {bool} NOT NULL, " + ORIGIN + ", PRIMARY KEY (customer, survey_id)"
        ),
        "resolutions": (
            "customer TEXT NOT NULL, complaint_id TEXT NOT NULL, filed_at TEXT NOT NULL,"
            " resolved_at TEXT, satisfied {bool}, reopened {int} NOT NULL,"
            " retracted {bool} NOT NULL, " + ORIGIN + ", PRIMARY KEY (customer, complaint_id)"
        ),
        # The one table of contacts: the dossier (contacts per rep) and the compliance checks
        # (a sale while a complaint was open) read it too, rather than keep copies.
        "contacts": (
            "customer TEXT NOT NULL, contact_id TEXT NOT NULL, rep TEXT NOT NULL,"
            " channel TEXT NOT NULL, direction TEXT NOT NULL, occurred_at TEXT NOT NULL,"
            " retracted {bool} NOT NULL, " + ORIGIN + ", PRIMARY KEY (customer, contact_id)"
        ),
        # The contacts that stand (not retracted) of each rep with each customer: how many,
        # the first and the last. A dossier lists a rep's customers from it, the one contacted
        # last first, without counting their contacts on each read.
        "rep_contacts": (
            "rep TEXT NOT NULL, customer TEXT NOT NULL, contacts {int} NOT NULL,"
            " first_contact_at TEXT NOT NULL, last_contact_at TEXT NOT NULL,"
            " PRIMARY KEY (rep, customer)"
        ),
        "campaign_touches": (
            "customer TEXT NOT NULL, touch_id TEXT NOT NULL, campaign TEXT NOT NULL,"
            " occurred_at TEXT NOT NULL, retracted {bool} NOT NULL, " + ORIGIN + ","
            " PRIMARY KEY (customer, touch_id)"
        ),
        # kind, event_at, capacity: for a campaign that is an event (a seminar, ...)
        "campaigns": (
            "campaign TEXT PRIMARY KEY, name TEXT NOT NULL, channel TEXT NOT NULL,"
            " budget TEXT NOT NULL, currency TEXT NOT NULL, starts_at TEXT NOT NULL,"
            " ends_at TEXT NOT NULL, kind TEXT, event_at TEXT, capacity {int}"
        ),
        # Registrations for events, as they stand: status open, confirmed or declined (a
        # confirmed one declined later: cancelled); attended true, false (a no-show) or NULL.
        "event_registrations": (
            "customer TEXT NOT NULL, registration_id TEXT NOT NULL, campaign TEXT NOT NULL,"
            " registered_at TEXT NOT NULL, status TEXT NOT NULL, confirmed_at TEXT,"
            " declined_at TEXT, attended {bool}, " + ORIGIN + ","
            " PRIMARY KEY (customer, registration_id)"
        ),
        "campaign_costs": (
            "campaign TEXT NOT NULL, version {int} NOT NULL, amount TEXT NOT NULL,"
            " currency TEXT NOT NULL, occurred_at TEXT NOT NULL,"
            " PRIMARY KEY (campaign, version)"
        ),
        "activity_merges": MERGES,
    }
    merging = (
        "purchases",
        "refunds",
        "event_registrations",
        "standing",
        "surveys",
        "resolutions",
        "contacts",
        "campaign_touches",
    )
    # 2: a lapse keeps the start of the quiet time it was judged on; 3: contacts per rep and
    # customer kept (rep_contacts); 4: a merged record's rows are the survivor's (and a row of
    # standing is known by its record and version)
    version = 4
    indexes: ClassVar[list[tuple[str, str]]] = [
        ("contacts", "rep, customer, occurred_at, retracted"),  # to count a pair again
        ("rep_contacts", "rep, last_contact_at DESC, customer"),  # a rep's, the last first
        ("rep_contacts", "customer"),  # who has talked to a customer
    ]
    sees_every_kind = True
    ignores = (
        # who the customer is and who holds them
        Customer.Registered,
        Customer.ProfileChanged,
        Customer.OwnerAssigned,
        Customer.TeamMemberAdded,
        Customer.TeamMemberRemoved,
        Customer.ResponsibilityMoved,
        Customer.PersonalDataErased,  # nothing here is personal
        Customer.MergedInto,  # a merge moves rows on the survivor's side (Merged)
        Customer.UnmergedFrom,
        # requests, quotes, promises and consent: the service, quotes and promises views
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
        Customer.ConsentChanged,
        Customer.ComplaintEscalated,  # the reports count a complaint by how it ended
        Rep.Hired,
        Rep.MovedTeam,
        Rep.Departed,
        Campaign.Closed,  # the reports read a campaign's budget and costs, not if it is open
        Campaign.SeatTaken,  # the customers' registrations say who holds a seat
        Campaign.SeatReleased,
    )

    @handles(Customer.PurchaseRecorded)
    def purchase_recorded(self, db: Writes, e: Customer.PurchaseRecorded, customer: str) -> None:
        db.later(
            "INSERT INTO {purchases} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                customer,
                e.order_id,
                iso(e.occurred_at),
                money(e.amount),
                e.currency,
                money(e.cost),
                e.rep,
                False,
                self.origin(e),
            ),
        )

    @handles(Customer.PurchaseRefunded)
    def purchase_refunded(self, db: Writes, e: Customer.PurchaseRefunded, customer: str) -> None:
        db.later(
            "INSERT INTO {refunds} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                customer,
                e.refund_id,
                e.order_id,
                iso(e.occurred_at),
                money(e.amount),
                e.currency,
                False,
                self.origin(e),
            ),
        )

    @handles(Customer.Churned)
    def churned(self, db: Writes, e: Customer.Churned, customer: str) -> None:
        db.later(
            "INSERT INTO {standing} VALUES (?, ?, 'churned', ?, ?, ?, ?, NULL, ?)",
            (
                customer,
                e.originator_version,
                e.churn_id,
                iso(e.occurred_at),
                e.defection_type,
                e.competitor,
                self.origin(e),
            ),
        )

    @handles(Customer.WonBack)
    def won_back(self, db: Writes, e: Customer.WonBack, customer: str) -> None:
        db.later(
            "INSERT INTO {standing} VALUES (?, ?, 'won_back', NULL, ?, NULL, NULL, NULL, ?)",
            (customer, e.originator_version, iso(e.occurred_at), self.origin(e)),
        )

    @handles(Customer.Lapsed)
    def lapsed(self, db: Writes, e: Customer.Lapsed, customer: str) -> None:
        """A lapse holds while nothing happened in the ``days`` before it: the reports judge
        that in business time, so a purchase or contact in them recorded later voids it."""
        try:
            quiet_since = iso(e.occurred_at - timedelta(days=e.days))
        except OverflowError:  # before the calendar's start: nothing can void it
            quiet_since = None
        db.later(
            "INSERT INTO {standing} VALUES (?, ?, 'lapsed', NULL, ?, 'lapsed', NULL, ?, ?)",
            (customer, e.originator_version, iso(e.occurred_at), quiet_since, self.origin(e)),
        )

    @handles(Customer.SatisfactionRecorded)
    def satisfaction_recorded(
        self, db: Writes, e: Customer.SatisfactionRecorded, customer: str
    ) -> None:
        db.later(
            "INSERT INTO {surveys} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                customer,
                e.survey_id,
                iso(e.occurred_at),
                e.product,
                e.rep,
                len(e.items),
                csm(e.items),
                False,
                self.origin(e),
            ),
        )

    @handles(Customer.ComplaintFiled)
    def complaint_filed(self, db: Writes, e: Customer.ComplaintFiled, customer: str) -> None:
        db.later(
            "INSERT INTO {resolutions} VALUES (?, ?, ?, NULL, NULL, 0, ?, ?)",
            (customer, e.complaint_id, iso(e.occurred_at), False, self.origin(e)),
        )

    @handles(Customer.ComplaintResolved)
    def complaint_resolved(self, db: Writes, e: Customer.ComplaintResolved, customer: str) -> None:
        db.execute(
            "UPDATE {resolutions} SET resolved_at = ?, satisfied = ? WHERE customer = ? "
            "AND complaint_id = ?",
            (iso(e.occurred_at), e.satisfied, customer, e.complaint_id),
        )

    @handles(Customer.ComplaintReopened)
    def complaint_reopened(self, db: Writes, e: Customer.ComplaintReopened, customer: str) -> None:
        db.execute(
            "UPDATE {resolutions} SET resolved_at = NULL, satisfied = NULL, "
            "reopened = reopened + 1 WHERE customer = ? AND complaint_id = ?",
            (customer, e.complaint_id),
        )

    @handles(Customer.ContactLogged)
    def contact_logged(self, db: Writes, e: Customer.ContactLogged, customer: str) -> None:
        db.later(
            "INSERT INTO {contacts} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                customer,
                e.contact_id,
                e.rep,
                e.channel,
                e.direction,
                iso(e.occurred_at),
                False,
                self.origin(e),
            ),
        )
        db.later(CONTACTED, (e.rep, customer, iso(e.occurred_at), iso(e.occurred_at)))

    @handles(Customer.CampaignTouched)
    def campaign_touched(self, db: Writes, e: Customer.CampaignTouched, customer: str) -> None:
        db.later(
            "INSERT INTO {campaign_touches} VALUES (?, ?, ?, ?, ?, ?)",
            (customer, e.touch_id, e.campaign, iso(e.occurred_at), False, self.origin(e)),
        )

    @handles(Campaign.Launched)
    def launched(self, db: Writes, e: Campaign.Launched, campaign: str) -> None:
        db.later(
            "INSERT INTO {campaigns} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                campaign,
                e.name,
                e.channel,
                money(e.budget),
                e.currency,
                iso(e.starts_at),
                iso(e.ends_at),
                e.kind,
                iso(e.event_at),
                e.capacity,
            ),
        )

    @handles(Customer.RegistrationReceived)
    def registration_received(
        self, db: Writes, e: Customer.RegistrationReceived, customer: str
    ) -> None:
        db.later(
            "INSERT INTO {event_registrations} VALUES (?, ?, ?, ?, 'open', NULL, NULL, NULL, ?)",
            (customer, e.registration_id, e.campaign, iso(e.occurred_at), self.origin(e)),
        )

    @handles(Customer.RegistrationConfirmed)
    def registration_confirmed(
        self, db: Writes, e: Customer.RegistrationConfirmed, customer: str
    ) -> None:
        db.execute(
            "UPDATE {event_registrations} SET status = 'confirmed', confirmed_at = ?"
            " WHERE customer = ? AND registration_id = ?",
            (iso(e.occurred_at), customer, e.registration_id),
        )

    @handles(Customer.RegistrationDeclined)
    def registration_declined(
        self, db: Writes, e: Customer.RegistrationDeclined, customer: str
    ) -> None:
        db.execute(
            "UPDATE {event_registrations} SET status = 'declined', declined_at = ?"
            " WHERE customer = ? AND registration_id = ?",
            (iso(e.occurred_at), customer, e.registration_id),
        )

    @handles(Customer.AttendanceRecorded)
    def attendance_recorded(
        self, db: Writes, e: Customer.AttendanceRecorded, customer: str
    ) -> None:
        db.execute(
            "UPDATE {event_registrations} SET attended = ? WHERE customer = ?"
            " AND registration_id = ?",
            (bool(e.attended), customer, e.registration_id),
        )

    @handles(Campaign.CostRecorded)
    def cost_recorded(self, db: Writes, e: Campaign.CostRecorded, campaign: str) -> None:
        db.later(
            "INSERT INTO {campaign_costs} VALUES (?, ?, ?, ?, ?)",
            (campaign, e.originator_version, money(e.amount), e.currency, iso(e.occurred_at)),
        )

    @handles(Customer.EntryCorrected)
    def entry_corrected(self, db: Writes, e: Customer.EntryCorrected, customer: str) -> None:
        was = (
            self.contact_rep(db, customer, e.entry_id)
            if e.fields.keys() & {"rep", "occurred_at"}
            else None
        )
        for table, (id_column, fields) in CORRECTABLE.items():
            changes = [
                (fields[name], plain(name, value))
                for name, value in e.fields.items()
                if name in fields
            ]
            if table == "surveys" and "items" in e.fields:
                changes += [("items", len(e.fields["items"])), ("csm", csm(e.fields["items"]))]
            if changes:
                sets = ", ".join(f"{column} = ?" for column, _ in changes)
                db.execute(
                    f"UPDATE {{{table}}} SET {sets} WHERE customer = ? AND {id_column} = ?",
                    (*(v for _, v in changes), customer, e.entry_id),
                )
        if was is not None:
            recount(db, customer, {was, e.fields.get("rep", was)})

    @handles(Customer.EntryRetracted)
    def entry_retracted(self, db: Writes, e: Customer.EntryRetracted, customer: str) -> None:
        was = self.contact_rep(db, customer, e.entry_id)
        for table in RETRACTABLE:
            db.execute(
                f"UPDATE {{{table}}} SET retracted = ? WHERE customer = ? AND "
                f"{CORRECTABLE[table][0]} = ?",
                (True, customer, e.entry_id),
            )
        if was is not None:
            recount(db, customer, {was})

    @handles(Customer.Merged, Customer.Unmerged)
    def records_merged(
        self, db: Writes, e: Customer.Merged | Customer.Unmerged, survivor: str
    ) -> None:
        """The merged record's rows move (``MergingView``), and both customers' contacts per
        rep are counted again."""
        move_records(db, self, self.merges, e, survivor)
        for customer in (survivor, e.merged):
            db.execute("DELETE FROM {rep_contacts} WHERE customer = ?", (customer,))
            db.execute(
                "INSERT INTO {rep_contacts} SELECT rep, customer, COUNT(*), MIN(occurred_at),"
                " MAX(occurred_at) FROM {contacts} WHERE customer = ? AND retracted = ?"
                " GROUP BY rep, customer",
                (customer, False),
            )

    def contact_rep(self, db: Writes, customer: str, entry_id: str) -> str | None:
        """The rep of a contact that stands, if the entry is one."""
        row = db.one(
            "SELECT rep FROM {contacts} WHERE customer = ? AND contact_id = ? AND retracted = ?",
            (customer, entry_id, False),
        )
        return row["rep"] if row else None


# One more contact of a rep with a customer (rep, customer, when, when). Contacts commute: the
# count grows by one whatever their order, the first is the earliest, the last the latest.
CONTACTED = (
    "INSERT INTO {rep_contacts} AS p VALUES (?, ?, 1, ?, ?) ON CONFLICT (rep, customer) DO"
    " UPDATE SET contacts = p.contacts + 1, first_contact_at = CASE WHEN"
    " excluded.first_contact_at < p.first_contact_at THEN excluded.first_contact_at ELSE"
    " p.first_contact_at END, last_contact_at = CASE WHEN excluded.last_contact_at >"
    " p.last_contact_at THEN excluded.last_contact_at ELSE p.last_contact_at END"
)


def recount(db: Writes, customer: str, reps: set[str]) -> None:
    """Count again the contacts of these reps with the customer, after one was corrected or
    retracted (a count cannot be undone by one: the first or last may be the one that went)."""
    for rep in sorted(reps):
        db.execute("DELETE FROM {rep_contacts} WHERE rep = ? AND customer = ?", (rep, customer))
        db.execute(
            "INSERT INTO {rep_contacts} SELECT rep, customer, COUNT(*), MIN(occurred_at),"
            " MAX(occurred_at) FROM {contacts} WHERE rep = ? AND customer = ? AND retracted = ?"
            " GROUP BY rep, customer",
            (rep, customer, False),
        )


def plain(name: str, value: Any) -> Any:
    if name == "occurred_at":
        return iso(value)
    return money(value) if name in ("amount", "cost") else value


def csm(items: dict[str, str]) -> str:
    """Customer satisfaction: the items' mean score on the 7-level scale, to 2 places."""
    scores = [LEVEL_SCORES[Level(level)] for level in items.values()]
    return str((Decimal(sum(scores)) / len(scores)).quantize(Decimal("0.01"), ROUND_HALF_UP))
