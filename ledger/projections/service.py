"""service: inbound requests and complaints with their deadlines, and the marketing and sales
that reached a customer when it should not have.

Complaints keep one period per time they were open (filed or reopened until resolved), so
that "touched while a complaint was open" is a question about business time: when the touch
happened, whenever either was recorded.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, ClassVar

from ledger.aggregates import Customer
from ledger.errors import ViewNotBuilt
from ledger.projections.activity import Activity
from ledger.projections.base import (
    MERGES,
    ORIGIN,
    RESPONSIBLE,
    MergingView,
    Page,
    after_key,
    decode_cursor,
    hand_over,
    handles,
    page_of,
)
from ledger.sealing import revealed
from ledger.sql import Database, ViewDb, Writes, iso

SAME_MATERIAL_DAYS = 30
# Corrected field -> column, per table; entry ids are unique within a customer, so a
# correction changes at most one row of one table.
CORRECTABLE: dict[str, dict[str, str]] = {
    "requests": {
        "kind": "kind",
        "channel": "channel",
        "summary": "summary",
        "respond_by": "respond_by",
        "occurred_at": "received_at",
    },
    "complaints": {
        "category": "category",
        "severity": "severity",
        "description": "description",
        "respond_by": "respond_by",
        "occurred_at": "filed_at",
    },
    "touches": {
        "channel": "channel",
        "material": "material",
        "department": "department",
        "occurred_at": "occurred_at",
    },
    "sales": {"rep": "rep", "occurred_at": "occurred_at"},
    "consents": {"occurred_at": "occurred_at"},
}
ID_COLUMN = {
    "requests": "request_id",
    "complaints": "complaint_id",
    "touches": "touch_id",
    "sales": "entry_id",
    "consents": "consent_id",
}
TIME_COLUMNS = {"received_at", "respond_by", "filed_at", "occurred_at"}


def sale(
    db: Writes,
    customer: str,
    entry_id: str,
    kind: str,
    rep: str | None,
    at: datetime,
    origin: str,
) -> None:
    db.later(
        "INSERT INTO {sales} VALUES (?, ?, ?, ?, ?, ?, ?)",
        (customer, entry_id, kind, rep, iso(at), False, origin),
    )


def day_number(when: datetime) -> int:
    """Whole UTC days since 1970-01-01, so "within 30 days" is integer arithmetic in SQL."""
    return (when.astimezone(timezone.utc).date() - datetime(1970, 1, 1).date()).days


class Service(MergingView):
    name = "service"
    tables: ClassVar[dict[str, str]] = {
        "requests": (
            "customer TEXT NOT NULL, request_id TEXT NOT NULL, kind TEXT NOT NULL,"
            " channel TEXT NOT NULL, rep TEXT, summary TEXT, received_at TEXT NOT NULL,"
            " respond_by TEXT NOT NULL, status TEXT NOT NULL, answered_at TEXT,"
            " answered_by TEXT, retracted {bool} NOT NULL, " + RESPONSIBLE + ", " + ORIGIN + ","
            " PRIMARY KEY (customer, request_id)"
        ),
        "complaints": (
            "customer TEXT NOT NULL, complaint_id TEXT NOT NULL, category TEXT NOT NULL,"
            " severity TEXT NOT NULL, description TEXT NOT NULL, rep TEXT,"
            " filed_at TEXT NOT NULL, respond_by TEXT, status TEXT NOT NULL, escalated_to TEXT,"
            " resolved_at TEXT, satisfied {bool}, reopened {int} NOT NULL,"
            " retracted {bool} NOT NULL, " + RESPONSIBLE + ", " + ORIGIN + ","
            " PRIMARY KEY (customer, complaint_id)"
        ),
        # Registrations for events: open until confirmed or declined (``answered_at``: the
        # first of the two, which is what the inbox judges a respond-by against); a confirmed
        # one declined later is cancelled (its seat freed); attendance once the event is held.
        "registrations": (
            "customer TEXT NOT NULL, registration_id TEXT NOT NULL, campaign TEXT NOT NULL,"
            " channel TEXT NOT NULL, rep TEXT, note TEXT, registered_at TEXT NOT NULL,"
            " respond_by TEXT NOT NULL, status TEXT NOT NULL, answered_at TEXT,"
            " confirmed_at TEXT, declined_at TEXT, reason TEXT, attended {bool},"
            " attended_at TEXT, " + RESPONSIBLE + ", " + ORIGIN + ","
            " PRIMARY KEY (customer, registration_id)"
        ),
        "complaint_periods": (
            "customer TEXT NOT NULL, complaint_id TEXT NOT NULL, period {int} NOT NULL,"
            " opened_at TEXT NOT NULL, closed_at TEXT, " + ORIGIN + ","
            " PRIMARY KEY (customer, complaint_id, period)"
        ),
        "touches": (
            "customer TEXT NOT NULL, touch_id TEXT NOT NULL, campaign TEXT NOT NULL,"
            " channel TEXT NOT NULL, material TEXT, department TEXT, occurred_at TEXT NOT NULL,"
            " day {int} NOT NULL, retracted {bool} NOT NULL, " + ORIGIN + ","
            " PRIMARY KEY (customer, touch_id)"
        ),
        "sales": (
            "customer TEXT NOT NULL, entry_id TEXT NOT NULL, kind TEXT NOT NULL, rep TEXT,"
            " occurred_at TEXT NOT NULL, retracted {bool} NOT NULL, " + ORIGIN + ","
            " PRIMARY KEY (customer, entry_id)"
        ),
        # Every change of consent, at its business time: a touch is judged against the last
        # change on or before it, whenever either was recorded (``version``: the order of
        # recording, which decides between two changes at one instant).
        "consents": (
            "customer TEXT NOT NULL, consent_id TEXT NOT NULL, channel TEXT NOT NULL,"
            " purpose TEXT NOT NULL, granted {bool} NOT NULL, occurred_at TEXT NOT NULL,"
            " version {int} NOT NULL, " + ORIGIN + ", PRIMARY KEY (customer, consent_id)"
        ),
        "service_merges": MERGES,
    }
    merging = (
        "requests",
        "complaints",
        "registrations",
        "complaint_periods",
        "touches",
        "sales",
        "consents",
    )
    indexes: ClassVar[list[tuple[str, str]]] = [
        ("requests", "status, respond_by"),
        ("requests", "responsible, retracted, status, respond_by"),  # a rep's, in order
        ("complaints", "status, respond_by"),
        ("complaints", "responsible, retracted, status"),
        ("complaint_periods", "customer, opened_at"),
        ("registrations", "campaign, status"),
        ("registrations", "responsible, status"),
        ("touches", "customer, material"),
        ("sales", "customer, occurred_at"),
        ("consents", "customer, channel, purpose, occurred_at, version"),
    ]
    # 2: free text kept sealed; 3: touches judged against consents in business time;
    # 4: responsibility for requests and complaints apart from who took them; 5: a merged
    # record's rows are the survivor's
    version = 5

    # -- requests --------------------------------------------------------------------------------

    @handles(Customer.RequestReceived)
    def request_received(self, db: Writes, e: Customer.RequestReceived, customer: str) -> None:
        db.later(
            "INSERT INTO {requests} VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', NULL, NULL, ?,"
            " ?, NULL, NULL, ?)",
            (
                customer,
                e.request_id,
                e.kind,
                e.channel,
                e.rep,
                e.summary,
                iso(e.occurred_at),
                iso(e.respond_by),
                False,
                e.rep,
                self.origin(e),
            ),
        )

    @handles(Customer.RequestAnswered)
    def request_answered(self, db: Writes, e: Customer.RequestAnswered, customer: str) -> None:
        db.execute(
            "UPDATE {requests} SET status = 'answered', answered_at = ?, answered_by = ? "
            "WHERE customer = ? AND request_id = ?",
            (iso(e.occurred_at), e.rep, customer, e.request_id),
        )

    # -- registrations for events ------------------------------------------------------------

    @handles(Customer.RegistrationReceived)
    def registration_received(
        self, db: Writes, e: Customer.RegistrationReceived, customer: str
    ) -> None:
        db.later(
            "INSERT INTO {registrations} VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', NULL, NULL,"
            " NULL, NULL, NULL, NULL, ?, NULL, NULL, ?)",
            (
                customer,
                e.registration_id,
                e.campaign,
                e.channel,
                e.rep,
                e.note,
                iso(e.occurred_at),
                iso(e.respond_by),
                e.rep,
                self.origin(e),
            ),
        )

    @handles(Customer.RegistrationConfirmed)
    def registration_confirmed(
        self, db: Writes, e: Customer.RegistrationConfirmed, customer: str
    ) -> None:
        db.execute(
            "UPDATE {registrations} SET status = 'confirmed', confirmed_at = ?,"
            " answered_at = COALESCE(answered_at, ?) WHERE customer = ? AND registration_id = ?",
            (iso(e.occurred_at), iso(e.occurred_at), customer, e.registration_id),
        )

    @handles(Customer.RegistrationDeclined)
    def registration_declined(
        self, db: Writes, e: Customer.RegistrationDeclined, customer: str
    ) -> None:
        db.execute(
            "UPDATE {registrations} SET status = 'declined', declined_at = ?, reason = ?,"
            " answered_at = COALESCE(answered_at, ?) WHERE customer = ? AND registration_id = ?",
            (iso(e.occurred_at), e.reason, iso(e.occurred_at), customer, e.registration_id),
        )

    @handles(Customer.AttendanceRecorded)
    def attendance_recorded(
        self, db: Writes, e: Customer.AttendanceRecorded, customer: str
    ) -> None:
        db.execute(
            "UPDATE {registrations} SET attended = ?, attended_at = ? WHERE customer = ?"
            " AND registration_id = ?",
            (bool(e.attended), iso(e.occurred_at), customer, e.registration_id),
        )

    # -- complaints ------------------------------------------------------------------------------

    @handles(Customer.ComplaintFiled)
    def complaint_filed(self, db: Writes, e: Customer.ComplaintFiled, customer: str) -> None:
        db.later(
            "INSERT INTO {complaints} VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', NULL, NULL,"
            " NULL, 0, ?, ?, NULL, NULL, ?)",
            # A forgotten customer's description reads as None: the view keeps "".
            (
                customer,
                e.complaint_id,
                e.category,
                e.severity,
                e.description or "",
                e.rep,
                iso(e.occurred_at),
                iso(e.respond_by),
                False,
                e.rep,
                self.origin(e),
            ),
        )
        db.later(
            "INSERT INTO {complaint_periods} VALUES (?, ?, 1, ?, NULL, ?)",
            (customer, e.complaint_id, iso(e.occurred_at), self.origin(e)),
        )

    @handles(Customer.ComplaintEscalated)
    def complaint_escalated(
        self, db: Writes, e: Customer.ComplaintEscalated, customer: str
    ) -> None:
        db.execute(
            "UPDATE {complaints} SET escalated_to = ? WHERE customer = ? AND complaint_id = ?",
            (e.to, customer, e.complaint_id),
        )

    @handles(Customer.ComplaintResolved)
    def complaint_resolved(self, db: Writes, e: Customer.ComplaintResolved, customer: str) -> None:
        db.execute(
            "UPDATE {complaints} SET status = 'resolved', resolved_at = ?, satisfied = ? "
            "WHERE customer = ? AND complaint_id = ?",
            (iso(e.occurred_at), e.satisfied, customer, e.complaint_id),
        )
        db.execute(
            "UPDATE {complaint_periods} SET closed_at = ? WHERE customer = ? AND "
            "complaint_id = ? AND closed_at IS NULL",
            (iso(e.occurred_at), customer, e.complaint_id),
        )

    @handles(Customer.ComplaintReopened)
    def complaint_reopened(self, db: Writes, e: Customer.ComplaintReopened, customer: str) -> None:
        db.execute(
            "UPDATE {complaints} SET status = 'open', resolved_at = NULL, satisfied = NULL,"
            " reopened = reopened + 1 WHERE customer = ? AND complaint_id = ?",
            (customer, e.complaint_id),
        )
        db.execute(
            "INSERT INTO {complaint_periods} SELECT customer, complaint_id, reopened + 1,"
            " ?, NULL, origin FROM {complaints} WHERE customer = ? AND complaint_id = ?",
            (iso(e.occurred_at), customer, e.complaint_id),
        )

    # -- touches and sales -----------------------------------------------------------------------

    @handles(Customer.CampaignTouched)
    def campaign_touched(self, db: Writes, e: Customer.CampaignTouched, customer: str) -> None:
        db.later(
            "INSERT INTO {touches} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                customer,
                e.touch_id,
                e.campaign,
                e.channel,
                e.material,
                e.department,
                iso(e.occurred_at),
                day_number(e.occurred_at),
                False,
                self.origin(e),
            ),
        )

    @handles(Customer.ConsentChanged)
    def consent_changed(self, db: Writes, e: Customer.ConsentChanged, customer: str) -> None:
        db.later(
            "INSERT INTO {consents} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                customer,
                e.consent_id,
                e.channel,
                e.purpose,
                bool(e.granted),
                iso(e.occurred_at),
                e.originator_version,
                self.origin(e),
            ),
        )

    @handles(Customer.QuoteIssued)
    def quote_issued(self, db: Writes, e: Customer.QuoteIssued, customer: str) -> None:
        sale(db, customer, e.quote_id, "quote", e.rep, e.occurred_at, self.origin(e))

    @handles(Customer.PurchaseRecorded)
    def purchase_recorded(self, db: Writes, e: Customer.PurchaseRecorded, customer: str) -> None:
        sale(db, customer, e.order_id, "purchase", e.rep, e.occurred_at, self.origin(e))

    # -- corrections and retractions -------------------------------------------------------------

    @handles(Customer.EntryCorrected)
    def entry_corrected(self, db: Writes, e: Customer.EntryCorrected, customer: str) -> None:
        for table, columns in CORRECTABLE.items():
            changes = [
                (
                    columns[k],
                    iso(v)
                    if columns[k] in TIME_COLUMNS
                    else ""
                    if v is None and columns[k] == "description"
                    else v,
                )
                for k, v in e.fields.items()
                if k in columns
            ]
            if table == "touches" and "occurred_at" in e.fields:
                changes.append(("day", day_number(e.fields["occurred_at"])))
            if not changes:
                continue
            sets = ", ".join(f"{column} = ?" for column, _ in changes)
            db.execute(
                f"UPDATE {{{table}}} SET {sets} WHERE customer = ? AND {ID_COLUMN[table]} = ?",
                (*(v for _, v in changes), customer, e.entry_id),
            )
        if "occurred_at" in e.fields:
            db.execute(
                "UPDATE {complaint_periods} SET opened_at = ? WHERE customer = ? AND "
                "complaint_id = ? AND period = 1",
                (iso(e.fields["occurred_at"]), customer, e.entry_id),
            )

    @handles(Customer.ResponsibilityMoved)
    def responsibility_moved(
        self, db: Writes, e: Customer.ResponsibilityMoved, customer: str
    ) -> None:
        hand_over(db, "requests", "request_id", customer, e)
        hand_over(db, "complaints", "complaint_id", customer, e)
        hand_over(db, "registrations", "registration_id", customer, e)

    @handles(Customer.PersonalDataErased)
    def personal_data_erased(
        self, db: Writes, e: Customer.PersonalDataErased, customer: str
    ) -> None:
        """The free text the customer wrote goes with their personal data (the record's)."""
        origin = self.origin(e)
        db.execute("UPDATE {requests} SET summary = NULL WHERE origin = ?", (origin,))
        db.execute("UPDATE {complaints} SET description = '' WHERE origin = ?", (origin,))
        db.execute(
            "UPDATE {registrations} SET note = NULL, reason = NULL WHERE origin = ?", (origin,)
        )

    @handles(Customer.EntryRetracted)
    def entry_retracted(self, db: Writes, e: Customer.EntryRetracted, customer: str) -> None:
        for table, id_column in ID_COLUMN.items():
            if table == "consents":  # not retractable: a later change supersedes one
                continue
            db.execute(
                f"UPDATE {{{table}}} SET retracted = ? WHERE customer = ? AND {id_column} = ?",
                (True, customer, e.entry_id),
            )


# -- queries -------------------------------------------------------------------------------------


VIOLATION_KEY = ("at", "kind", "customer", "entry_id", "related_id")
VIOLATIONS_SQL = """
SELECT 'touch_after_opt_out' AS kind, t.customer, t.occurred_at AS at, t.touch_id AS entry_id,
  'touch' AS entry_kind, NULL AS rep, t.campaign, t.channel, t.material, t.department,
  '' AS related_id, NULL AS related_kind, NULL AS related_at, NULL AS related_until,
  NULL AS related_campaign, NULL AS related_department
FROM {touches} t WHERE t.retracted = ? AND (
  SELECT k.granted FROM {consents} k WHERE k.customer = t.customer AND k.channel = t.channel
    AND k.purpose = 'marketing' AND k.occurred_at <= t.occurred_at
  ORDER BY k.occurred_at DESC, k.version DESC LIMIT 1) = ?
UNION ALL
SELECT 'touch_during_open_complaint', t.customer, t.occurred_at, t.touch_id, 'touch', NULL,
  t.campaign, t.channel, t.material, t.department, p.complaint_id, 'complaint', p.opened_at,
  p.closed_at, NULL, NULL
FROM {touches} t
JOIN {complaint_periods} p ON p.customer = t.customer AND p.opened_at <= t.occurred_at
  AND (p.closed_at IS NULL OR t.occurred_at < p.closed_at)
JOIN {complaints} c ON c.customer = p.customer AND c.complaint_id = p.complaint_id
WHERE t.retracted = ? AND c.retracted = ?
UNION ALL
SELECT 'sale_during_open_complaint', s.customer, s.occurred_at, s.entry_id, s.kind, s.rep,
  NULL, NULL, NULL, NULL, p.complaint_id, 'complaint', p.opened_at, p.closed_at, NULL, NULL
FROM (SELECT customer, entry_id, kind, rep, NULL AS direction, occurred_at, retracted
      FROM {sales}
      UNION ALL
      SELECT customer, contact_id, 'contact', rep, direction, occurred_at, retracted
      FROM {contacts}) s
JOIN {complaint_periods} p ON p.customer = s.customer AND p.opened_at <= s.occurred_at
  AND (p.closed_at IS NULL OR s.occurred_at < p.closed_at)
JOIN {complaints} c ON c.customer = p.customer AND c.complaint_id = p.complaint_id
WHERE s.retracted = ? AND c.retracted = ?
  AND (s.kind <> 'contact' OR (s.direction = 'out'
       AND (c.rep IS NULL OR s.rep <> c.rep)
       AND (c.responsible IS NULL OR s.rep <> c.responsible)
       AND (c.escalated_to IS NULL OR s.rep <> c.escalated_to)))
UNION ALL
SELECT 'same_material_two_departments', a.customer, a.occurred_at, a.touch_id, 'touch', NULL,
  a.campaign, a.channel, a.material, a.department, b.touch_id, 'touch', b.occurred_at, NULL,
  b.campaign, b.department
FROM {touches} a
JOIN {touches} b ON b.customer = a.customer AND b.material = a.material
  AND b.department <> a.department AND b.day >= a.day - ?
  AND (b.occurred_at < a.occurred_at OR (b.occurred_at = a.occurred_at AND b.touch_id < a.touch_id))
WHERE a.retracted = ? AND b.retracted = ?
UNION ALL
SELECT 'same_material_two_records', a.customer, a.occurred_at, a.touch_id, 'touch', NULL,
  a.campaign, a.channel, a.material, a.department, b.touch_id, 'touch', b.occurred_at, NULL,
  b.campaign, b.department
FROM {touches} a
JOIN {touches} b ON b.customer = a.customer AND b.material = a.material AND b.origin <> a.origin
  AND (b.department = a.department OR b.department IS NULL OR a.department IS NULL)
  AND b.day >= a.day - ?
  AND (b.occurred_at < a.occurred_at OR (b.occurred_at = a.occurred_at AND b.touch_id < a.touch_id))
WHERE a.retracted = ? AND b.retracted = ?
"""
WHY = {
    "touch_after_opt_out": "marketed on {channel} after the customer opted out",
    "touch_during_open_complaint": "marketed while complaint {related_id} was open",
    "sale_during_open_complaint": "{entry_kind} while complaint {related_id} was open",
    "same_material_two_departments": "{material} sent by {department} and by "
    "{related_department} within {days} days",
    # Two records of one customer, merged since: the one person got it twice. (Sent by two
    # departments, it is listed as that.)
    "same_material_two_records": "{material} sent to two records of one customer within "
    "{days} days",
}


def violations(
    db: Database, *, kind: str | None = None, limit: int = 100, cursor: str | None = None
) -> Page:
    """Touches after opt-out or during an open complaint, sales during an open complaint, and
    the same material from two departments, or to two records of one customer (merged since),
    within 30 days; in order of when they happened.

    A contact logged by the rep handling (or given) the complaint is the complaint being
    handled, not a sale, and is not listed. Contacts are read from the activity view.
    """
    params: list[Any] = [
        *(False, False, False, False, False, False),
        *(SAME_MATERIAL_DAYS, False, False),
        *(SAME_MATERIAL_DAYS, False, False),
    ]
    conditions, after = [], decode_cursor(cursor, (str,) * len(VIOLATION_KEY))
    if kind is not None:
        conditions.append("kind = ?")
        params.append(kind)
    if after:
        condition, more = after_key(VIOLATION_KEY, after)
        conditions.append(condition)
        params += more
    outer = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    contacts = Activity().table_names()["contacts"]
    with db.transaction({**Service().table_names(), "contacts": contacts}, commit=False) as tx:
        if not db.table_exists(tx, contacts):
            raise ViewNotBuilt(
                "the activity view has not been built: the compliance checks "
                "read its contacts; run the projection runner with it",
                where="violations",
            )
        rows = tx.rows(
            f"SELECT * FROM ({VIOLATIONS_SQL}) found {outer} "
            f"ORDER BY {', '.join(VIOLATION_KEY)} LIMIT ?",
            (*params, limit + 1),
        )
    page = page_of(rows, limit, VIOLATION_KEY)
    page.items = [violation(row) for row in page.items]
    return page


def violation(row: dict[str, Any]) -> dict[str, Any]:
    entry = {
        "entry_id": row["entry_id"],
        "entry": row["entry_kind"],
        "at": row["at"],
        **{
            k: row[k]
            for k in ("rep", "campaign", "channel", "material", "department")
            if row[k] is not None
        },
    }
    entries = [entry]
    if row["related_kind"] == "complaint":
        entries.append(
            {
                "entry_id": row["related_id"],
                "entry": "complaint",
                "open_from": row["related_at"],
                "open_until": row["related_until"],
            }
        )
    elif row["related_kind"] == "touch":
        entries.append(
            {
                "entry_id": row["related_id"],
                "entry": "touch",
                "at": row["related_at"],
                "campaign": row["related_campaign"],
                "material": row["material"],
                "department": row["related_department"],
            }
        )
    return {
        "kind": row["kind"],
        "customer": row["customer"],
        "at": row["at"],
        "why": WHY[row["kind"]].format(**row, days=SAME_MATERIAL_DAYS),
        "entries": entries,
    }


# The rep's open complaints and unanswered requests: (query, order), the parameters the rep
# and False (not retracted). The dossier pages through them beside its own lists.
OPEN_COMPLAINTS = (
    "SELECT customer, complaint_id, category, severity, description, filed_at, respond_by,"
    " escalated_to, reopened, rep AS taken_by, handed_at, handed_by FROM {complaints}"
    " WHERE responsible = ? AND status = 'open' AND retracted = ?",
    "respond_by IS NULL, respond_by, filed_at, customer, complaint_id",
)
UNANSWERED_REQUESTS = (
    "SELECT customer, request_id, kind, channel, summary, received_at, respond_by,"
    " rep AS taken_by, handed_at, handed_by FROM {requests} WHERE responsible = ?"
    " AND status = 'open' AND retracted = ?",
    "respond_by, customer, request_id",
)


def open_items(tx: ViewDb, rep: str) -> dict[str, list[dict[str, Any]]]:
    """The rep's open complaints and unanswered requests, in a transaction that maps the
    service tables."""
    return {
        name: tx.rows(f"{query} ORDER BY {order}", (rep, False))
        for name, (query, order) in (
            ("open_complaints", OPEN_COMPLAINTS),
            ("unanswered_requests", UNANSWERED_REQUESTS),
        )
    }


def complaints_of(db: Database, customer: str) -> list[dict[str, Any]]:
    """Every complaint of this customer, as filed and as it stands, oldest first."""
    with db.transaction(Service().table_names(), commit=False, snapshot=False) as tx:
        rows = tx.rows(
            "SELECT * FROM {complaints} WHERE customer = ? ORDER BY filed_at, complaint_id",
            (customer,),
        )
    for row in rows:
        row["retracted"], row["satisfied"] = (
            bool(row["retracted"]),
            (None if row["satisfied"] is None else bool(row["satisfied"])),
        )
    return revealed(db, rows)  # type: ignore[no-any-return]


def open_items_of_rep(db: Database, rep: str) -> dict[str, list[dict[str, Any]]]:
    """Complaints the rep handles that are open, and requests assigned to them unanswered."""
    with db.transaction(Service().table_names(), commit=False) as tx:
        return revealed(db, open_items(tx, rep))  # type: ignore[no-any-return]
