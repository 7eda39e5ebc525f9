"""The analysts' figures, computed from the activity view (live or replayed) when they are
asked for; each function says what its figures mean.

Retention, in the sense of a customer base (DESIGN.md "Views"):
- a customer is acquired by their first purchase, is lost when they churn (with the defection
  type the churn gives) or lapse (no purchase or contact for a while: the scheduler marks it),
  and is active again when won back or when they buy again;
- for a period [start, end): active at start, new (first purchase in the period), returned
  (active at the end, neither active at the start nor new), retained (active at start and at
  end), lost (active at start, not at end, by defection type), active at end;
- retention rate = retained / active at start, churn rate = lost / active at start;
- repeat-purchase rate = customers with two or more purchases in the period / customers with
  any purchase in it.
Everything is judged in business time (occurred_at); which events are known is the reading's
business (replay/core.py).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from statistics import median
from typing import Any

from ledger.clock import shifted
from ledger.commands.fields import DefectionType
from ledger.sql import ViewDb, iso, parse_iso
from replay.periods import Period

ACTIVE, LOST = "active", "lost"
DEFECTION_TYPES = [*(kind.value for kind in DefectionType), "lapsed"]


def rows_of(tx: ViewDb, statement: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Rows of the activity view, read in the report's one transaction (one snapshot)."""
    return tx.rows(statement, params)


@dataclass
class Standing:
    """One customer's changes of standing, in business time: (instant, standing, why)."""

    at: list[str] = field(default_factory=list)
    states: list[tuple[str, str | None]] = field(default_factory=list)
    first_purchase: str | None = None
    purchases: list[str] = field(default_factory=list)

    def at_instant(self, instant: str) -> tuple[str, str | None] | None:
        """The standing just before ``instant`` (ISO text): None if not yet a customer."""
        found = bisect_left(self.at, instant)
        return self.states[found - 1] if found else None


# Changes of standing, less each lapse that a purchase or contact in its quiet time voids:
# the scheduler judged it on what it knew; a fact recorded later, dated in those days,
# re-judges it.
LIVE_CHANGES = """
SELECT s.customer, s.occurred_at, s.kind, s.defection_type FROM {standing} s
WHERE s.kind <> 'lapsed' OR s.quiet_since IS NULL OR NOT (
  EXISTS (SELECT 1 FROM {purchases} p WHERE p.customer = s.customer AND p.retracted = ?
          AND p.occurred_at > s.quiet_since AND p.occurred_at <= s.occurred_at)
  OR EXISTS (SELECT 1 FROM {contacts} c WHERE c.customer = s.customer AND c.retracted = ?
             AND c.occurred_at > s.quiet_since AND c.occurred_at <= s.occurred_at))
ORDER BY s.customer, s.occurred_at, s.version"""


def standings(tx: ViewDb) -> dict[str, Standing]:
    """Every customer who has bought, with their changes of standing."""
    bought = rows_of(
        tx,
        "SELECT customer, occurred_at FROM {purchases} WHERE retracted = ? "
        "ORDER BY customer, occurred_at",
        (False,),
    )
    changes = rows_of(tx, LIVE_CHANGES, (False, False))
    moments: dict[str, list[tuple[str, int, str, str | None]]] = defaultdict(list)
    for row in bought:
        moments[row["customer"]].append((row["occurred_at"], 0, "purchase", None))
    for row in changes:
        moments[row["customer"]].append((row["occurred_at"], 1, row["kind"], row["defection_type"]))
    found: dict[str, Standing] = {}
    for customer, events in moments.items():
        standing = Standing()
        state: tuple[str, str | None] | None = None
        for at, _, kind, why in sorted(events):
            new: tuple[str, str | None]
            if kind == "purchase":
                standing.purchases.append(at)
                standing.first_purchase = standing.first_purchase or at
                new = (ACTIVE, None)
            elif state is None:
                continue  # a prospect's churn or return does not make them a customer
            else:
                new = (LOST, why) if kind in ("churned", "lapsed") else (ACTIVE, None)
            if new != state:
                state = new
                standing.at.append(at)
                standing.states.append(new)
        if standing.first_purchase is not None:
            found[customer] = standing
    return found


def retention(tx: ViewDb, periods: list[Period]) -> list[dict[str, Any]]:
    """One row of figures per period (see the module's docstring)."""
    customers = standings(tx)
    rows = []
    for period in periods:
        start, end = text(period.start), text(period.end)
        at_start = {c for c, s in customers.items() if s.at_instant(start) == (ACTIVE, None)}
        at_end = {c: s.at_instant(end) or (LOST, None) for c, s in customers.items()}
        active_end = {c for c, state in at_end.items() if state[0] == ACTIVE}
        new = {
            c for c, s in customers.items() if s.first_purchase and start <= s.first_purchase < end
        }
        lost = at_start - active_end
        why = Counter(at_end[c][1] for c in lost)
        bought = {c: sum(start <= at < end for at in s.purchases) for c, s in customers.items()}
        buyers = [c for c, n in bought.items() if n]
        row: dict[str, Any] = {
            "period": period.label,
            "start": start,
            "end": end,
            "active_at_start": len(at_start),
            "new": len(new),
            "returned": len(active_end - at_start - new),
            "retained": len(at_start & active_end),
            "lost": len(lost),
            "active_at_end": len(active_end),
            "retention_rate": ratio(len(at_start & active_end), len(at_start)),
            "churn_rate": ratio(len(lost), len(at_start)),
            "repeat_purchase_rate": ratio(sum(bought[c] >= 2 for c in buyers), len(buyers)),
        }
        row.update({f"lost_{kind}": why.get(kind, 0) for kind in DEFECTION_TYPES})
        rows.append(row)
    return rows


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def text(moment: datetime) -> str:
    """An instant as the views store it."""
    found = iso(moment)
    assert found is not None
    return found


RETENTION_COLUMNS = [
    "period",
    "active_at_start",
    "new",
    "returned",
    "retained",
    "lost",
    "active_at_end",
    "retention_rate",
    "churn_rate",
    "repeat_purchase_rate",
    *(f"lost_{kind}" for kind in DEFECTION_TYPES),
]


def purchases(tx: ViewDb) -> list[dict[str, Any]]:
    """Every purchase not retracted, oldest first."""
    return rows_of(
        tx,
        "SELECT customer, order_id, occurred_at, amount, currency, cost "
        "FROM {purchases} WHERE retracted = ? ORDER BY occurred_at, customer",
        (False,),
    )


def refunds(tx: ViewDb) -> list[dict[str, Any]]:
    """Every refund not retracted, oldest first."""
    return rows_of(
        tx,
        "SELECT customer, refund_id, order_id, occurred_at, amount, currency "
        "FROM {refunds} WHERE retracted = ? ORDER BY occurred_at, customer",
        (False,),
    )


def value(tx: ViewDb, periods: list[Period]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Revenue net of refunds, and profit where every purchase's cost is known, per customer
    and currency over the periods' span; and per currency the share of revenue from the top
    fifth of customers (by revenue; at least one customer). A refund counts in the period it
    was given in (as the books would), whenever its purchase was; it is not an order, and its
    goods' cost is not taken back (profit = net revenue - the purchases' cost)."""
    start, end = text(periods[0].start), text(periods[-1].end)
    totals: dict[tuple[str, str], dict[str, Any]] = {}

    def of(row: dict[str, Any]) -> dict[str, Any]:
        key = (row["customer"], row["currency"])
        return totals.setdefault(
            key,
            {
                "customer": key[0],
                "currency": key[1],
                "orders": 0,
                "revenue": Decimal(0),
                "refunded": Decimal(0),
                "cost": Decimal(0),
                "costed": True,
            },
        )

    for row in purchases(tx):
        if not start <= row["occurred_at"] < end:
            continue
        found = of(row)
        found["orders"] += 1
        found["revenue"] += Decimal(row["amount"])
        if row["cost"] is None:
            found["costed"] = False
        else:
            found["cost"] += Decimal(row["cost"])
    for row in refunds(tx):
        if start <= row["occurred_at"] < end:
            found = of(row)
            found["refunded"] += Decimal(row["amount"])
            found["revenue"] -= Decimal(row["amount"])
    rows = sorted(totals.values(), key=lambda r: (r["currency"], -r["revenue"], r["customer"]))
    for row in rows:
        costed = row.pop("costed")
        row["profit"] = str(row["revenue"] - row["cost"]) if costed else None
        row["cost"] = str(row["cost"]) if costed else None
        row["revenue"] = str(row["revenue"])
        row["refunded"] = str(row["refunded"])
    shares = []
    for currency in sorted({r["currency"] for r in rows}):
        ranked = [Decimal(r["revenue"]) for r in rows if r["currency"] == currency]
        top = max(1, round(len(ranked) * 0.2))
        total = sum(ranked, Decimal(0))
        orders = sum(r["orders"] for r in rows if r["currency"] == currency)
        refunded = sum(
            (Decimal(r["refunded"]) for r in rows if r["currency"] == currency), Decimal(0)
        )
        shares.append(
            {
                "currency": currency,
                "customers": len(ranked),
                "orders": orders,
                "revenue": str(total),
                "refunded": str(refunded),
                "top_customers": top,
                "top_20_percent_share": round(float(sum(ranked[:top], Decimal(0)) / total), 4)
                if total
                else None,
            }
        )
    return rows, shares


VALUE_COLUMNS = ["customer", "currency", "orders", "revenue", "refunded", "cost", "profit"]


def cohorts(tx: ViewDb, periods: list[Period]) -> tuple[list[dict[str, Any]], list[str]]:
    """Customers by the period of their first purchase (within the periods given), and the
    share of each cohort that bought in each later period: period 0 is the first (100 %)."""
    labels = [period.label for period in periods]
    index = {period.label: n for n, period in enumerate(periods)}
    bounds = [(text(p.start), text(p.end), p.label) for p in periods]
    first: dict[str, str] = {}
    bought: dict[str, set[int]] = defaultdict(set)
    for row in purchases(tx):
        first.setdefault(row["customer"], row["occurred_at"])
        for start, end, label in bounds:
            if start <= row["occurred_at"] < end:
                bought[row["customer"]].add(index[label])
    members: dict[int, list[str]] = defaultdict(list)
    for customer, at in first.items():
        for start, end, label in bounds:
            if start <= at < end:
                members[index[label]].append(customer)
    rows = []
    for n, label in enumerate(labels):
        cohort = members.get(n, [])
        line: dict[str, Any] = {"cohort": label, "customers": len(cohort)}
        for later in range(len(labels) - n):
            line[f"period_{later}"] = ratio(
                sum(n + later in bought[c] for c in cohort), len(cohort)
            )
        rows.append(line)
    return rows, ["cohort", "customers", *(f"period_{k}" for k in range(len(labels)))]


def satisfaction(tx: ViewDb, periods: list[Period], by: str) -> list[dict[str, Any]]:
    """CSM per period and product or rep: the mean of the surveys' CSM (each survey's own is
    the mean of its items' scores, 90 ... -90), with the number of surveys."""
    surveys = rows_of(
        tx, "SELECT occurred_at, product, rep, csm FROM {surveys} WHERE retracted = ?", (False,)
    )
    rows = []
    for period in periods:
        start, end = text(period.start), text(period.end)
        groups: dict[str, list[Decimal]] = defaultdict(list)
        for survey in surveys:
            if start <= survey["occurred_at"] < end:
                groups[survey[by] or "(none)"].append(Decimal(survey["csm"]))
                groups["(all)"].append(Decimal(survey["csm"]))
        for name in sorted(groups, key=lambda g: (g != "(all)", g)):
            scores = groups[name]
            rows.append(
                {
                    "period": period.label,
                    by: name,
                    "surveys": len(scores),
                    "csm": str(
                        (sum(scores, Decimal(0)) / len(scores)).quantize(
                            Decimal("0.01"), ROUND_HALF_UP
                        )
                    ),
                }
            )
    return rows


COMPLAINT_GROUPS = ("no_complaint", "unresolved", "resolved", "resolved_quickly")


def complaints(
    tx: ViewDb, periods: list[Period], *, window: int, quick: int
) -> list[dict[str, Any]]:
    """Per period: complaints filed, resolved by the period's end and the days it took; and for
    the customers who had bought by the period's end, grouped by how their complaints of the
    period ended (none; one still open at the end; all resolved; all resolved within
    ``quick`` days), the share who bought again within ``window`` days after the period."""
    filed = rows_of(
        tx,
        "SELECT customer, filed_at, resolved_at FROM {resolutions} WHERE retracted = ?",
        (False,),
    )
    bought = standings(tx)
    rows = []
    for period in periods:
        start, end = text(period.start), text(period.end)
        after = text(shifted(period.end, window))
        days: list[float] = []
        experience: dict[str, str] = {}
        for complaint in filed:
            if not start <= complaint["filed_at"] < end:
                continue
            resolved = complaint["resolved_at"] is not None and complaint["resolved_at"] < end
            took = elapsed(complaint["filed_at"], complaint["resolved_at"]) if resolved else None
            if took is not None:
                days.append(took)
            group = (
                "unresolved"
                if took is None
                else "resolved_quickly"
                if took <= quick
                else "resolved"
            )
            earlier = experience.get(complaint["customer"])
            rank = COMPLAINT_GROUPS.index
            if earlier is None or rank(group) < rank(earlier):
                experience[complaint["customer"]] = group
        members: dict[str, list[str]] = defaultdict(list)
        for customer, standing in bought.items():
            if standing.first_purchase and standing.first_purchase < end:
                members[experience.get(customer, "no_complaint")].append(customer)
        row: dict[str, Any] = {
            "period": period.label,
            "complaints": sum(start <= c["filed_at"] < end for c in filed),
            "resolved": len(days),
            "mean_days_to_resolution": round(sum(days) / len(days), 2) if days else None,
            "median_days_to_resolution": round(median(days), 2) if days else None,
        }
        for group in COMPLAINT_GROUPS:
            customers = members.get(group, [])
            again = sum(any(end <= at < after for at in bought[c].purchases) for c in customers)
            row[f"customers_{group}"] = len(customers)
            row[f"repurchase_rate_{group}"] = ratio(again, len(customers))
        rows.append(row)
    return rows


def days_after(moment: str, days: int) -> str:
    found = parse_iso(moment)
    assert found is not None
    return text(shifted(found, days))


def elapsed(start: str, end: str) -> float:
    begun, ended = parse_iso(start), parse_iso(end)
    assert begun is not None and ended is not None
    return (ended - begun).total_seconds() / 86400


COMPLAINT_COLUMNS = [
    "period",
    "complaints",
    "resolved",
    "mean_days_to_resolution",
    "median_days_to_resolution",
    *(f"{kind}_{group}" for group in COMPLAINT_GROUPS for kind in ("customers", "repurchase_rate")),
]


def registrations(tx: ViewDb, start: str, end: str) -> dict[str, Counter[str]]:
    """Per event, of the registrations made in [start, end), how they stand: registrations,
    confirmed (and not cancelled since), declined (cancellations too), attended, no-shows."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows_of(
        tx,
        "SELECT campaign, status, attended FROM {event_registrations}"
        " WHERE registered_at >= ? AND registered_at < ?",
        (start, end),
    ):
        found = counts[row["campaign"]]
        found["registrations"] += 1
        found[row["status"]] += 1
        if row["attended"] is not None:
            found["attended" if row["attended"] else "no_shows"] += 1
    return counts


def campaigns(tx: ViewDb, periods: list[Period], *, window: int) -> list[dict[str, Any]]:
    """Per campaign touching customers, or taking registrations for its event, in the
    periods' span: touches, customers touched, and of those the ones who contacted the
    company (an inbound contact) or bought within ``window`` days after their first touch;
    the revenue of those purchases (in the campaign's currency) against what the campaign
    cost in the span. For an event, the registrations made in the span and how they stand
    in the reading (confirmed, declined, attended, no-shows), and the spend per attendee."""
    start, end = text(periods[0].start), text(periods[-1].end)
    known = {c["campaign"]: c for c in rows_of(tx, "SELECT * FROM {campaigns}")}
    spent: dict[str, Decimal] = defaultdict(Decimal)
    for paid in rows_of(tx, "SELECT campaign, amount, occurred_at FROM {campaign_costs}"):
        if start <= paid["occurred_at"] < end:
            spent[paid["campaign"]] += Decimal(paid["amount"])
    first: dict[tuple[str, str], str] = {}
    touches: Counter[str] = Counter()
    for touch in rows_of(
        tx,
        "SELECT customer, campaign, occurred_at FROM {campaign_touches} "
        "WHERE retracted = ? ORDER BY occurred_at",
        (False,),
    ):
        if start <= touch["occurred_at"] < end:
            touches[touch["campaign"]] += 1
            first.setdefault((touch["campaign"], touch["customer"]), touch["occurred_at"])
    inbound = defaultdict(list)
    for contact in rows_of(
        tx,
        "SELECT customer, occurred_at FROM {contacts} WHERE retracted = ? AND direction = ?",
        (False, "in"),
    ):
        inbound[contact["customer"]].append(contact["occurred_at"])
    sales = defaultdict(list)
    for sale in purchases(tx):
        sales[sale["customer"]].append(sale)
    registered = registrations(tx, start, end)
    rows = []
    for campaign in sorted(touches.keys() | registered.keys()):
        about = known.get(campaign, {})
        currency = about.get("currency")
        touched = [(customer, at) for (name, customer), at in first.items() if name == campaign]
        contacted = bought = 0
        revenue = Decimal(0)
        for customer, at in touched:
            until = days_after(at, window)
            contacted += any(at <= when < until for when in inbound[customer])
            within = [s for s in sales[customer] if at <= s["occurred_at"] < until]
            bought += bool(within)
            revenue += sum(
                (Decimal(s["amount"]) for s in within if s["currency"] == currency), Decimal(0)
            )
        cost = spent.get(campaign, Decimal(0))
        event = registered.get(campaign, Counter())
        rows.append(
            {
                "campaign": campaign,
                "name": about.get("name"),
                "touches": touches[campaign],
                "customers": len(touched),
                "contacted": contacted,
                "bought": bought,
                "currency": currency,
                "revenue": str(revenue),
                "spend": str(cost),
                "budget": about.get("budget"),
                "revenue_per_spend": round(float(revenue / cost), 4) if cost else None,
                "event": about.get("kind"),
                "event_at": about.get("event_at"),
                "capacity": about.get("capacity"),
                **{name: event[name] for name in EVENT_COUNTS},
                "spend_per_attendee": (
                    str((cost / event["attended"]).quantize(CENT, ROUND_HALF_UP))
                    if event["attended"]
                    else None
                ),
            }
        )
    return rows


EVENT_COUNTS = ("registrations", "confirmed", "declined", "attended", "no_shows")
CENT = Decimal("0.01")


CAMPAIGN_COLUMNS = [
    "campaign",
    "name",
    "touches",
    "customers",
    "contacted",
    "bought",
    "currency",
    "revenue",
    "spend",
    "revenue_per_spend",
    "event",
    "event_at",
    "capacity",
    *EVENT_COUNTS,
    "spend_per_attendee",
]
FACE_TO_FACE = ("visit", "event")
LEVELS = ("intimate", "face_to_face", "general", "no_contact")


def relationship(
    tx: ViewDb, as_of: datetime, *, days: int, intimate: int = 3
) -> list[dict[str, Any]]:
    """Each customer's relationship level from their contacts in the ``days`` before
    ``as_of``: intimate (at least ``intimate`` face-to-face contacts: visits, events),
    face-to-face (at least one), general (contacts by other channels only), no contact."""
    start, end = text(shifted(as_of, -days)), text(as_of)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for contact in rows_of(
        tx, "SELECT customer, channel, occurred_at FROM {contacts} WHERE retracted = ?", (False,)
    ):
        if start <= contact["occurred_at"] < end:
            kind = "face_to_face" if contact["channel"] in FACE_TO_FACE else "other"
            counts[contact["customer"]][kind] += 1
    customers = {
        row["customer"] for row in rows_of(tx, "SELECT DISTINCT customer FROM {purchases}")
    } | set(counts)
    rows = []
    for customer in sorted(customers):
        seen = counts.get(customer, Counter())
        level = (
            "intimate"
            if seen["face_to_face"] >= intimate
            else "face_to_face"
            if seen["face_to_face"]
            else "general"
            if seen["other"]
            else "no_contact"
        )
        rows.append(
            {
                "customer": customer,
                "level": level,
                "face_to_face_contacts": seen["face_to_face"],
                "other_contacts": seen["other"],
            }
        )
    return rows
