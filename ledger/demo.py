"""A realistic demo world: two years of a machine maker's sales, marketing and service.

``build_world`` first plans every command (one ``random.Random(seed)``, explicit ids, so a
seed is always the same world), then runs them in recording order through ``execute_many``.
The planner tracks what the aggregates will know, so it only plans commands that succeed.
The first customers carry scripted stories, so that even a tiny world holds every kind of
command and every case the views must find (``DemoSummary.seeded`` names them); the others
live random lives of skewed intensity.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from ledger.commands import models as m
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from ledger.application import Ledger

DAY, HOUR, MINUTE = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)
DEFAULT_START = datetime(2024, 11, 1, tzinfo=timezone.utc)
LATE_SHARE = 0.03  # entries recorded 1-20 days after they happened
CHURN_PER_DAY = 0.0005
TIERS = ((0.05, 0.3), (0.25, 0.08), (0.70, 0.03))  # share of customers, episodes per day
MIN_CUSTOMERS, MIN_DAYS = 11, 120


@dataclass
class DemoSummary:
    customers: int
    reps: int
    campaigns: int
    commands: int
    events: int
    rejected: int
    departed_rep: str
    first_day: datetime
    last_day: datetime
    counts: dict[str, int]
    seeded: dict[str, str]
    rejections: list[str] = field(default_factory=list)  # the first few, to say why


class RepSpec(NamedTuple):
    ref: str
    name: str
    team: str
    manager: str | None
    owns: float  # weight as the owner of new customers


REPS = (  # managers first: a rep's manager must be hired before them
    RepSpec("REP-1", "王伟", "east", None, 1),
    RepSpec("REP-8", "刘洋", "marketing", None, 0),
    RepSpec("REP-2", "Anna Schmidt", "key-accounts", None, 1),
    RepSpec("REP-10", "赵磊", "service", None, 0),
    RepSpec("REP-3", "李娜", "east", "REP-1", 3),
    RepSpec("REP-4", "Tom Baker", "east", "REP-1", 1.5),
    RepSpec("REP-5", "张敏", "south", "REP-1", 1),
    RepSpec("REP-6", "陈静", "south", "REP-5", 1.5),
    RepSpec("REP-7", "Lukas Weber", "key-accounts", "REP-2", 1.5),
    RepSpec("REP-9", "Emily Clark", "marketing", "REP-8", 0),
    RepSpec("REP-11", "Sophie Martin", "service", "REP-10", 0),
    RepSpec("REP-12", "黄晓明", "south", "REP-5", 1.5),
)
BY_REF = {r.ref: r for r in REPS}
DEPARTING, LATE_HIRE, MOVER, SERVICE = "REP-3", "REP-12", "REP-4", ("REP-10", "REP-11")

CAMPAIGNS = (  # slug, name, channel, budget, currency, material, department, period (shares)
    (
        "WINTER-MAIL",
        "冬季产品目录 Winter catalogue",
        "email",
        80_000,
        "CNY",
        "winter-catalogue",
        "marketing",
        0.02,
        0.15,
    ),
    ("EXPO", "CIMT Expo", "event", 120_000, "EUR", "expo-invitation", "sales", 0.20, 0.30),
    (
        "SPRING-SMS",
        "春季促销 Spring offer",
        "sms",
        20_000,
        "CNY",
        "spring-offer-sms",
        "marketing",
        0.35,
        0.45,
    ),
    (
        "BROCHURE-DE",
        "Produktbroschüre",
        "letter",
        15_000,
        "EUR",
        "product-brochure",
        "marketing",
        0.45,
        0.70,
    ),
    ("NEWSLETTER", "Newsletter", "email", 30_000, "USD", "product-brochure", "sales", 0.60, 1.0),
    (
        "LAUNCH",
        "LX-300 新品发布会 launch",
        "event",
        150_000,
        "CNY",
        "launch-invitation",
        "sales",
        0.80,
        0.97,
    ),
)
CATALOGUE = {  # list prices in CNY
    "LX-200 laser cutter": 186_000,
    "LX-50 desktop cutter": 42_000,
    "CNC-5 milling centre": 320_000,
    "Spare parts kit": 3_800,
    "Service plan Gold": 12_000,
    "Service plan Basic": 4_800,
    "Operator training": 6_500,
    "Filter cartridges (10)": 900,
}
CONSUMABLES = (
    "Spare parts kit",
    "Filter cartridges (10)",
    "Service plan Basic",
    "Operator training",
)
RATES = {"CNY": Decimal(1), "EUR": Decimal("0.128"), "USD": Decimal("0.139")}
LOCALES = {
    "zh-CN": ("CNY", "+86 13{} {:04d} {:04d}"),
    "de-DE": ("EUR", "+49 30 {}{:03d} {:04d}"),
    "en-GB": ("USD", "+44 20 {}{:03d} {:04d}"),
}
COMPETITORS = ("Trumpf", "Bystronic", "大族激光", "宏山激光", "Amada")
SURVEY_ITEMS = (
    "product_quality",
    "delivery",
    "value_for_money",
    "after_sales_service",
    "rep_competence",
)
LEVELS = {
    "very_satisfied": 15,
    "satisfied": 30,
    "fairly_satisfied": 20,
    "neutral": 12,
    "fairly_dissatisfied": 10,
    "dissatisfied": 8,
    "very_dissatisfied": 5,
}
ZH_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
ZH_GIVEN = ("伟", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "秀英", "建华", "海燕")
LATIN_FIRST = (
    "Anna",
    "Lukas",
    "Emma",
    "Jonas",
    "Sophie",
    "Felix",
    "Olivia",
    "James",
    "Laura",
    "Max",
    "Hannah",
    "Oliver",
    "Julia",
    "Thomas",
    "Charlotte",
    "Daniel",
)
LATIN_LAST = (
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Wilson",
    "Becker",
    "Hoffmann",
    "Evans",
    "Clarke",
    "Wagner",
)
ZH_CITIES, ZH_FIRMS = (
    ("上海", "北京", "深圳", "杭州", "苏州", "广州", "成都"),
    ("华腾机械", "宏达精密制造", "金鼎电子科技", "瑞丰汽车配件", "恒信包装", "远航重工"),
)
LATIN_FIRMS = (" Maschinenbau GmbH", " Präzisionstechnik AG", " Engineering Ltd", " & Sons Ltd")
TEXT = {  # (Chinese, English) phrasings, picked by the customer's locale
    "subject": (
        ("产品咨询", "报价跟进", "交货时间确认", "售后回访", "年度合同续签"),
        (
            "Product enquiry",
            "Quote follow-up",
            "Delivery date",
            "After-sales check-in",
            "Contract renewal",
        ),
    ),
    "price": (("下次订单给予5%折扣",), ("5% off the next order",)),
    "delivery": (("保证两周内发货",), ("Ship within two weeks",)),
    "service": (("安排工程师上门检修",), ("Send an engineer on site",)),
    "follow_up": (("下周回电确认方案",), ("Call back next week with a proposal",)),
    "refund": (("退还运费",), ("Refund the shipping cost",)),
    "other": (("寄送样品",), ("Send samples",)),
    "complaint": (
        ("设备运行噪音过大", "发票金额有误", "交货延迟三周", "客服电话无人接听"),
        (
            "The machine is far too loud",
            "The invoice amount is wrong",
            "Delivery was three weeks late",
            "Nobody answers the service line",
        ),
    ),
    "resolution": (
        ("已更换零件并回访客户", "已开具更正发票"),
        ("Replaced the part and called back", "Issued a corrected invoice"),
    ),
    "request": (
        ("请尽快回电", "设备故障需要维修", "报名参加培训"),
        ("Please call back", "Machine down, needs repair", "Sign me up for training"),
    ),
}


QUOTE_OUTCOMES: dict[str, Callable[..., m.Command]] = {
    "accept": m.AcceptQuote,
    "decline": m.DeclineQuote,
    "expire": m.ExpireQuote,
    "withdraw": m.WithdrawQuote,
}
PROMISE_OUTCOMES: dict[str, Callable[..., m.Command]] = {
    "kept": m.KeepPromise,
    "broken": m.BreakPromise,
    "cancelled": m.CancelPromise,
}


class Planned(NamedTuple):
    recorded_at: datetime
    actor: str
    command: m.Command


class CampaignPlan(NamedTuple):
    ref: str
    channel: str
    department: str
    starts: datetime
    ends: datetime


class Amendable(NamedTuple):
    entry_id: str
    kind: str
    at: datetime
    rec: datetime
    amount: Decimal = Decimal(0)


@dataclass
class Life:
    """What the planner knows of one customer: enough to plan only commands that succeed."""

    ref: str
    locale: str
    currency: str
    rec: datetime  # when the registration is recorded: nothing about them can come earlier
    owners: list[tuple[datetime, str]]
    seeded: bool = False
    consents: list[tuple[datetime, str, bool]] = field(default_factory=list)
    amendable: list[Amendable] = field(default_factory=list)
    last_churn: datetime | None = None

    @property
    def born(self) -> datetime:
        return self.owners[0][0]

    @property
    def lang(self) -> int:
        return 0 if self.locale == "zh-CN" else 1

    def owner_at(self, at: datetime) -> str:
        return [self.owners[0][1], *(rep for since, rep in self.owners if since <= at)][-1]

    def opted_out(self, channel: str, at: datetime) -> bool:
        changes = [
            granted for when, ch, granted in sorted(self.consents) if ch == channel and when <= at
        ]
        return bool(changes) and not changes[-1]


class World:
    def __init__(self, seed: int, start: datetime, days: int) -> None:
        self.rng, self.seed, self.start = random.Random(seed), seed, start
        self.end = start + days * DAY
        self.departure = self.end - 30 * DAY
        self.hired = {r.ref: start + i * 15 * MINUTE for i, r in enumerate(REPS)}
        self.hired[LATE_HIRE] = self.at(0.55)
        self.planned: list[Planned] = []
        self.ids: Counter[str] = Counter()
        self.campaigns: dict[str, CampaignPlan] = {}
        self.seeded: dict[str, str] = {"departed_rep": DEPARTING}

    def at(self, share: float) -> datetime:
        return self.start + (self.end - self.start) * share

    def days(self, low: float, high: float) -> timedelta:
        return timedelta(days=self.rng.uniform(low, high))

    def before_end(self, at: datetime) -> bool:
        return at < self.end - HOUR

    def new_id(self, prefix: str) -> str:
        self.ids[prefix] += 1
        return f"{prefix}-{self.ids[prefix]:06d}"

    def text(self, life: Life, key: str) -> str:
        return self.rng.choice(TEXT[key][life.lang])

    def active(self, rep: str, at: datetime) -> bool:
        return self.hired[rep] + HOUR <= at and not (rep == DEPARTING and at >= self.departure)

    def rep_for(self, life: Life, at: datetime, rep: str | None = None) -> str:
        """``rep`` (by default the owner) if still there at ``at``, else their manager."""
        rep = rep or life.owner_at(at)
        return rep if self.active(rep, at) else BY_REF[rep].manager or "REP-1"

    def emit(
        self,
        cls: Callable[..., m.Command],
        actor: str,
        at: datetime,
        *,
        after: datetime | None = None,
        late: float = 0,
        **fields: Any,
    ) -> datetime:
        """Plan a command; ``late`` is the chance it is recorded days after it happened."""
        rec = at + timedelta(minutes=self.rng.uniform(2, 45))
        if late and self.rng.random() < late:
            lag = at + self.days(1, 20)
            rec = lag if lag < self.end and (actor != DEPARTING or lag < self.departure) else rec
        rec = max(rec, after + MINUTE) if after else rec
        if actor == DEPARTING and rec >= self.departure:
            actor = "REP-1"  # a departed rep records nothing; their manager types it in
        command = cls(command_id=f"demo:{self.seed}:{len(self.planned)}", occurred_at=at, **fields)
        self.planned.append(Planned(rec, actor, command))
        return rec

    def say(
        self,
        life: Life,
        cls: Callable[..., m.Command],
        actor: str,
        at: datetime,
        *,
        after: datetime | None = None,
        late: float = 0,
        **fields: Any,
    ) -> datetime:
        return self.emit(
            cls,
            actor,
            at,
            after=max(after or life.rec, life.rec),
            late=late,
            customer=life.ref,
            **fields,
        )


def money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


# -- reps and campaigns -------------------------------------------------------------------------


def staff(w: World) -> None:
    for rep in REPS:
        w.emit(
            m.HireRep,
            f"manager:{rep.manager}" if rep.manager else "admin",
            w.hired[rep.ref],
            ref=rep.ref,
            name=rep.name,
            team=rep.team,
            manager=rep.manager,
            email=f"{rep.ref.lower()}@demo-machines.example",
        )
    w.emit(
        m.MoveRep,
        "manager:REP-2",
        w.at(0.5),
        rep=MOVER,
        team="key-accounts",
        manager="REP-2",
        reason="Takes over the growing workshop accounts",
    )
    w.emit(
        m.DepartRep,
        "manager:REP-1",
        w.departure,
        rep=DEPARTING,
        reason="Resigned; joins a competitor",
    )


def campaigns(w: World) -> None:
    for slug, name, channel, budget, currency, material, department, begin, end in CAMPAIGNS:
        plan = CampaignPlan(
            f"CMP-{w.at(begin).year}-{slug}", channel, department, w.at(begin), w.at(end)
        )
        w.campaigns[slug] = plan
        actor = "manager:REP-8" if department == "marketing" else "manager:REP-1"
        rec = w.emit(
            m.LaunchCampaign,
            actor,
            max(w.start + HOUR, plan.starts - 7 * DAY),
            ref=plan.ref,
            name=name,
            channel=channel,
            budget=Decimal(budget),
            currency=currency,
            starts_at=plan.starts,
            ends_at=plan.ends,
            material=material,
            department=department,
        )
        for share in sorted(w.rng.random() for _ in range(w.rng.randint(2, 4))):
            spent_at = plan.starts + (plan.ends - plan.starts) * share
            rec = w.emit(
                m.RecordCampaignCost,
                actor,
                spent_at,
                after=rec,
                campaign=plan.ref,
                currency=currency,
                note="Invoice",
                amount=money(Decimal(budget * w.rng.uniform(0.1, 0.35))),
            )
        if w.before_end(closing := plan.ends + w.days(3, 15)):
            w.emit(m.CloseCampaign, actor, closing, after=rec, campaign=plan.ref, reason="Ended")


# -- episodes: an interaction and the outcomes it will have -------------------------------------


def contact(
    w: World,
    life: Life,
    at: datetime,
    *,
    channel: str | None = None,
    direction: str | None = None,
    subject: str | None = None,
    late: float = LATE_SHARE,
) -> tuple[str, datetime]:
    rep, contact_id = w.rep_for(life, at), w.new_id("K")
    rec = w.say(
        life,
        m.LogContact,
        rep,
        at,
        late=late,
        contact_id=contact_id,
        rep=rep,
        channel=channel
        or w.rng.choice(
            ("visit", "phone", "phone", "email", "email", "chat", "web", "letter", "sms")
        ),
        direction=direction or w.rng.choice(("in", "out")),
        subject=subject or w.text(life, "subject"),
    )
    life.amendable.append(Amendable(contact_id, "contact", at, rec))
    return contact_id, rec


def request(
    w: World, life: Life, at: datetime, *, kind: str | None = None, answered: bool | None = None
) -> None:
    rep, request_id = w.rep_for(life, at), w.new_id("R")
    respond_by = at + w.days(1, 7)
    rec = w.say(
        life,
        m.ReceiveRequest,
        rep,
        at,
        late=LATE_SHARE,
        request_id=request_id,
        rep=rep,
        kind=kind or w.rng.choice(("callback", "repair", "registration", "quote", "info")),
        channel=w.rng.choice(("phone", "email", "web", "chat")),
        respond_by=respond_by,
        summary=w.text(life, "request"),
    )
    answer = at + (respond_by - at) * w.rng.uniform(0.1, 1.6)
    if (w.rng.random() < 0.85 if answered is None else answered) and w.before_end(answer):
        by = w.rep_for(life, answer, rep)
        w.say(
            life,
            m.AnswerRequest,
            by,
            answer,
            after=rec,
            request_id=request_id,
            rep=by,
            channel="phone",
        )


def quote(
    w: World,
    life: Life,
    at: datetime,
    *,
    rep: str | None = None,
    product: str | None = None,
    factor: float | None = None,
    fate: str | None = None,
) -> None:
    rep, quote_id = rep or w.rep_for(life, at), w.new_id("Q")
    product = product or w.rng.choice(list(CATALOGUE))
    factor = factor or w.rng.uniform(0.9, 1.05)
    price = (CATALOGUE[product] * RATES[life.currency] * Decimal(factor)).quantize(Decimal(1))
    quantity = Decimal(w.rng.choice((1, 1, 2, 3) if CATALOGUE[product] > 10_000 else (2, 5, 10)))
    discount = Decimal(w.rng.choice(("0", "0", "0.05", "0.1", "0.15")))
    valid_until = at + w.days(14, 45)
    rec = w.say(
        life,
        m.IssueQuote,
        rep,
        at,
        late=LATE_SHARE,
        quote_id=quote_id,
        rep=rep,
        product=product,
        quantity=quantity,
        unit_price=price,
        currency=life.currency,
        discount=discount,
        valid_until=valid_until,
    )
    fate = fate or w.rng.choices(("accept", "decline", "expire", "withdraw"), (45, 22, 25, 8))[0]
    if fate == "expire":  # the scheduler's nightly run
        when, actor = valid_until + w.days(0.05, 1), "scheduler"
    else:
        when = at + (valid_until - at) * w.rng.uniform(0.1, 0.9)
        actor = w.rep_for(life, when, rep)
        if left_behind(w, rep, when):
            return
    if fate == "open" or not w.before_end(when):
        return
    rec = w.say(life, QUOTE_OUTCOMES[fate], actor, when, after=rec, quote_id=quote_id)
    if fate == "accept" and w.before_end(bought := when + w.days(1, 10)):
        purchase(
            w,
            life,
            bought,
            after=rec,
            amount=price * quantity * (1 - discount),
            product=product,
            quantity=quantity,
            quote_id=quote_id,
        )
        if w.rng.random() < 0.4:
            promise(w, life, when, category="delivery", quote_id=quote_id, after=rec)


def left_behind(w: World, rep: str, when: datetime) -> bool:
    """Most of what the departing rep leaves open stays open: the hand-over list."""
    return rep == DEPARTING and when >= w.departure and w.rng.random() < 0.6


def purchase(
    w: World,
    life: Life,
    at: datetime,
    *,
    after: datetime | None = None,
    amount: Decimal | None = None,
    late: float = LATE_SHARE,
    **fields: Any,
) -> Amendable:
    if amount is None:
        fields.update(product=w.rng.choice(CONSUMABLES), quantity=Decimal(w.rng.randint(1, 12)))
        amount = CATALOGUE[fields["product"]] * fields["quantity"] * RATES[life.currency]
    order_id, amount = w.new_id("O"), money(amount)
    rec = w.say(
        life,
        m.RecordPurchase,
        "import",
        at,
        after=after,
        late=late,
        order_id=order_id,
        amount=amount,
        currency=life.currency,
        rep=w.rep_for(life, at),
        cost=money(amount * Decimal(w.rng.uniform(0.55, 0.8))) if w.rng.random() < 0.8 else None,
        **fields,
    )
    life.amendable.append(entry := Amendable(order_id, "purchase", at, rec, amount))
    return entry


def promise(
    w: World,
    life: Life,
    at: datetime,
    *,
    category: str | None = None,
    fate: str | None = None,
    rep: str | None = None,
    after: datetime | None = None,
    **links: Any,
) -> None:
    rep, promise_id = rep or w.rep_for(life, at), w.new_id("P")
    category = category or w.rng.choice(
        ("price", "delivery", "service", "follow_up", "refund", "other")
    )
    due_by = at + w.days(2, 30)
    rec = w.say(
        life,
        m.MakePromise,
        rep,
        at,
        after=after,
        late=LATE_SHARE,
        promise_id=promise_id,
        rep=rep,
        category=category,
        due_by=due_by,
        text=w.text(life, category),
        **links,
    )
    fate = (
        fate
        or w.rng.choices(
            ("kept", "broken", "cancelled", "overdue-kept", "overdue-broken", "overdue", "open"),
            (58, 10, 8, 8, 4, 4, 6),
        )[0]
    )
    when = (
        due_by + w.days(1, 10) if fate == "broken" else at + (due_by - at) * w.rng.uniform(0.2, 1)
    )
    if fate.startswith("overdue"):  # the scheduler marks it the night after it fell due
        if not w.before_end(marked := due_by + w.days(0.05, 1)):
            return
        rec = w.say(
            life, m.MarkPromiseOverdue, "scheduler", marked, after=rec, promise_id=promise_id
        )
        fate, when = fate.removeprefix("overdue").strip("-") or "open", marked + w.days(1, 10)
    if fate == "open" or not w.before_end(when) or left_behind(w, rep, when):
        return
    w.say(
        life,
        PROMISE_OUTCOMES[fate],
        w.rep_for(life, when, rep),
        when,
        after=rec,
        promise_id=promise_id,
    )


def complaint(
    w: World,
    life: Life,
    at: datetime,
    *,
    category: str | None = None,
    severity: str | None = None,
    fate: str | None = None,
) -> None:
    handler, complaint_id = w.rng.choice(SERVICE), w.new_id("C")
    rec = w.say(
        life,
        m.FileComplaint,
        handler,
        at,
        late=LATE_SHARE,
        complaint_id=complaint_id,
        category=category
        or w.rng.choice(
            ("product", "service", "delivery", "billing", "staff", "user_error", "other")
        ),
        severity=severity or w.rng.choices(("low", "medium", "high", "critical"), (4, 4, 2, 1))[0],
        description=w.text(life, "complaint"),
        respond_by=at + w.days(1, 10),
        rep=handler,
    )
    if w.rng.random() < 0.3:
        promise(
            w,
            life,
            at + w.days(0, 2),
            category=w.rng.choice(("refund", "service")),
            complaint_id=complaint_id,
            after=rec,
        )
    fate = fate or w.rng.choices(("resolve", "escalate", "reopen", "open"), (60, 18, 10, 12))[0]
    if fate in ("escalate", "reopen") and w.before_end(at := at + w.days(0.3, 3)):
        rec = w.say(
            life,
            m.EscalateComplaint,
            handler,
            at,
            after=rec,
            complaint_id=complaint_id,
            to="REP-10" if handler != "REP-10" else "quality team",
            reason="Customer upset",
        )
    rounds = {"open": 0, "reopen": 2}.get(fate, 1)
    for round_ in range(1, rounds + 1):
        if not w.before_end(at := at + w.days(1, 20)):
            break
        rec = w.say(
            life,
            m.ResolveComplaint,
            handler,
            at,
            after=rec,
            complaint_id=complaint_id,
            resolution=w.text(life, "resolution"),
            satisfied=round_ == rounds and w.rng.random() < 0.7,
        )
        if round_ < rounds and w.before_end(at := at + w.days(1, 10)):
            rec = w.say(
                life,
                m.ReopenComplaint,
                handler,
                at,
                after=rec,
                complaint_id=complaint_id,
                reason="The fault came back",
            )


def survey(w: World, life: Life, at: datetime) -> None:
    survey_id = w.new_id("S")
    items = {
        item: w.rng.choices(list(LEVELS), list(LEVELS.values()))[0]
        for item in w.rng.sample(SURVEY_ITEMS, w.rng.randint(3, 5))
    }
    rec = w.say(
        life,
        m.RecordSatisfaction,
        "survey",
        at,
        late=LATE_SHARE,
        survey_id=survey_id,
        items=items,
        rep=w.rep_for(life, at),
        product=w.rng.choice(list(CATALOGUE)),
    )
    life.amendable.append(Amendable(survey_id, "satisfaction", at, rec))


def consent(
    w: World, life: Life, at: datetime, *, channel: str | None = None, granted: bool | None = None
) -> datetime:
    channel = channel or w.rng.choice(("email", "sms", "letter", "phone"))
    purpose = "marketing" if granted is not None or w.rng.random() < 0.85 else "research"
    if purpose == "marketing":
        granted = life.opted_out(channel, at) if granted is None else granted
        life.consents.append((at, channel, granted))
    return w.say(
        life,
        m.ChangeConsent,
        "web",
        at,
        consent_id=w.new_id("CS"),
        channel=channel,
        purpose=purpose,
        granted=granted if granted is not None else w.rng.random() < 0.5,
    )


def touch(
    w: World,
    life: Life,
    at: datetime,
    plan: CampaignPlan,
    *,
    after: datetime | None = None,
    mind_opt_out: bool = True,
) -> None:
    """A campaign touch; the mailing tool mostly, but not always, skips those who opted out."""
    if mind_opt_out and life.opted_out(plan.channel, at) and w.rng.random() < 0.85:
        return
    touch_id = w.new_id("T")
    rec = w.say(
        life,
        m.TouchCampaign,
        "import",
        at,
        after=after,
        late=LATE_SHARE,
        touch_id=touch_id,
        campaign=plan.ref,
    )
    life.amendable.append(Amendable(touch_id, "touch", at, rec))
    if plan.channel == "event" and w.rng.random() < 0.25:
        contact(
            w,
            life,
            at + w.days(0, 1),
            channel="event",
            direction="in",
            subject=("参观展位", "Visited our stand")[life.lang],
        )
    again = at + w.days(3, 25)
    if w.rng.random() < 0.01 and w.before_end(again) and again <= plan.ends:
        w.say(
            life,
            m.TouchCampaign,
            "import",
            again,
            after=rec,
            touch_id=w.new_id("T"),
            campaign=plan.ref,
            department="sales" if plan.department != "sales" else "marketing",
        )


def profile(w: World, life: Life, at: datetime) -> None:
    phone = LOCALES[life.locale][1].format(
        w.rng.randint(1, 9), w.rng.randint(0, 999), w.rng.randint(0, 9999)
    )
    change: dict[str, Any] = w.rng.choice(
        (
            {"phone": phone},
            {"email": f"{life.ref.lower()}@mail.example"},
            {"segment": w.rng.choice(("enterprise", "smb", "vip", "retail"))},
        )
    )
    w.say(life, m.UpdateProfile, w.rep_for(life, at), at, **change)


def amend(w: World, life: Life, at: datetime, *, retract: bool = False) -> None:
    """Compliance corrects or retracts an entry it finds wrong (each entry at most once)."""
    entries = [
        e
        for e in life.amendable
        if life.born + DAY < e.at < at - DAY and (retract or e.kind != "touch")
    ]
    if not entries:
        return
    life.amendable.remove(entry := w.rng.choice(entries))
    if retract:
        w.say(
            life,
            m.RetractEntry,
            "compliance",
            at,
            after=entry.rec,
            entry_id=entry.entry_id,
            reason="Recorded twice",
        )
        return
    fields = {
        "purchase": {"amount": str(money(entry.amount * Decimal("0.9")))},
        "satisfaction": {"items": {"delivery": "satisfied", "value_for_money": "neutral"}},
        "contact": {"occurred_at": (entry.at - w.days(0.05, 1)).isoformat()},
    }[entry.kind]
    w.say(
        life,
        m.CorrectEntry,
        "compliance",
        at,
        after=entry.rec,
        entry_id=entry.entry_id,
        fields=fields,
        reason="Corrected against the original document",
    )


def churn(w: World, life: Life, at: datetime, defection: str | None = None) -> None:
    defection = (
        defection
        or w.rng.choices(("price", "product", "service", "self_change"), (35, 25, 25, 15))[0]
    )
    rival = w.rng.choice(COMPETITORS) if defection != "self_change" else None
    life.last_churn = w.say(
        life,
        m.RecordChurn,
        w.rep_for(life, at),
        at,
        after=life.last_churn,
        churn_id=w.new_id("CH"),
        defection_type=defection,
        competitor=rival,
        reason=f"Moved to {rival}" if rival else "Closed the workshop",
    )


def win_back(w: World, life: Life, at: datetime) -> None:
    rep = w.rep_for(life, at)
    life.last_churn = w.say(
        life,
        m.RecordWinBack,
        rep,
        at,
        after=life.last_churn,
        rep=rep,
        reason="Won back with a service plan offer",
    )


def conflict(w: World, life: Life, at: datetime, **fates: str) -> str:
    """Two reps quote one product, validity overlapping, at different prices."""
    first = w.rep_for(life, at)
    second = "REP-7" if first != "REP-7" else "REP-2"
    product = w.rng.choice(("LX-200 laser cutter", "CNC-5 milling centre", "Service plan Gold"))
    quote(w, life, at, rep=first, product=product, factor=1.0, fate=fates.get("first"))
    quote(
        w,
        life,
        at + w.days(1, 6),
        rep=second,
        product=product,
        factor=0.92,
        fate=fates.get("second"),
    )
    return product


EPISODES: dict[str, tuple[float, Callable[[World, Life, datetime], object]]] = {
    "contact": (34, contact),
    "request": (10, request),
    "quote": (9, quote),
    "purchase": (12, purchase),
    "promise": (6, promise),
    "complaint": (3, complaint),
    "survey": (4, survey),
    "consent": (2, consent),
    "profile": (1.5, profile),
    "correct": (1.2, amend),
    "retract": (0.6, lambda w, life, at: amend(w, life, at, retract=True)),
    "conflict": (0.05, conflict),
    "churn": (0, churn),
    "win_back": (0, win_back),
}


# -- customers: registration, owners, a life of episodes ----------------------------------------


def pick_owner(w: World, at: datetime, *, avoid: tuple[str, ...] = ()) -> str:
    reps = [r for r in REPS if r.owns and w.active(r.ref, at) and r.ref not in avoid]
    return w.rng.choices([r.ref for r in reps], [r.owns for r in reps])[0]


def register(w: World, index: int, *, owner: str | None = None, at: datetime | None = None) -> Life:
    rng, ref = w.rng, f"CUST-{index:05d}"
    imported = rng.random() < 0.35  # the existing customer base, loaded in the first fortnight
    at = at or w.start + (w.days(1, 14) if imported else w.days(14, (w.end - w.start).days - 20))
    locale = rng.choices(list(LOCALES), (60, 22, 18))[0]
    zh, company = locale == "zh-CN", rng.random() < 0.35
    if company:
        name = (
            f"{rng.choice(ZH_CITIES)}{rng.choice(ZH_FIRMS)}有限公司"
            if zh
            else f"{rng.choice(LATIN_LAST)}{rng.choice(LATIN_FIRMS)}"
        )
    else:
        name = (
            rng.choice(ZH_SURNAMES) + rng.choice(ZH_GIVEN)
            if zh
            else f"{rng.choice(LATIN_FIRST)} {rng.choice(LATIN_LAST)}"
        )
    owner = owner or pick_owner(w, at)
    currency, phone = LOCALES[locale]
    rec = w.emit(
        m.RegisterCustomer,
        "import" if at < w.start + 14 * DAY else owner,
        at,
        ref=ref,
        name=name,
        kind="company" if company else "person",
        locale=locale,
        owner=owner,
        email=f"contact{index}@{'mail.cn' if zh else 'mail.example'}",
        phone=phone.format(rng.randint(1, 9), rng.randint(0, 999), rng.randint(0, 9999)),
        segment=rng.choice(
            ("enterprise", "smb", "distributor") if company else ("retail", "workshop")
        ),
    )
    return Life(ref, locale, currency, rec, [(at, owner)])


def hand_over(w: World, life: Life, *, certain: bool = False) -> None:
    """Now and then an account changes hands; most of the departing rep's accounts do."""
    if not certain and w.rng.random() < 0.08 and (at := life.born + w.days(30, 400)) < w.departure:
        life.owners.append((at, pick_owner(w, at, avoid=(life.owner_at(at),))))
    if life.owner_at(w.departure) == DEPARTING and (certain or w.rng.random() < 0.6):
        at = w.departure + w.days(1, 20)
        to = LATE_HIRE if w.rng.random() < 0.6 else pick_owner(w, at, avoid=(DEPARTING,))
        life.owners.append((at, to))
    rec = life.rec
    for (_, before), (at, after) in zip(life.owners, life.owners[1:], strict=False):
        rec = w.say(
            life,
            m.AssignOwner,
            f"manager:{BY_REF[before].manager or 'REP-1'}",
            at,
            after=rec,
            rep=after,
            reason=f"Hand-over from {before}",
        )


def live(w: World, life: Life, *, churns: bool = True) -> None:
    """Episodes at random times (a Poisson process per customer), churn, campaign touches."""
    rate = w.rng.choices([r for _, r in TIERS], [s for s, _ in TIERS])[0]
    kinds = [k for k in EPISODES if not (life.seeded and k == "consent")]
    weights = [EPISODES[k][0] for k in kinds]
    t = life.born
    churn_at = churn_date(w, t) if churns else None
    plan: list[tuple[datetime, str, CampaignPlan | None]] = []
    while True:
        t += timedelta(days=w.rng.expovariate(rate))
        if churn_at is not None and t >= churn_at:
            plan.append((churn_at, "churn", None))
            t = churn_at + w.days(30, 150)
            if w.rng.random() > 0.3 or not w.before_end(t + DAY):
                break
            plan.append((t, "win_back", None))
            churn_at = churn_date(w, t)
        elif not w.before_end(t + DAY):
            break
        else:
            plan.append((t, w.rng.choices(kinds, weights)[0], None))
    for c in w.campaigns.values():
        first, last = max(c.starts, life.born + DAY), min(c.ends, w.end - DAY)
        if first < last and w.rng.random() < 0.3:
            plan += [
                (first + (last - first) * w.rng.random(), "touch", c)
                for _ in range(w.rng.randint(1, 2))
            ]
    for at, kind, campaign in sorted(plan, key=lambda p: p[0]):
        if campaign is not None:
            touch(w, life, at, campaign)
        else:
            EPISODES[kind][1](w, life, at)


def churn_date(w: World, after: datetime) -> datetime | None:
    at = after + timedelta(days=w.rng.expovariate(CHURN_PER_DAY))
    return at if w.before_end(at + DAY) else None


# -- seeded stories: a named customer per case that a test or a demo can look up ----------------


def conflicting_quotes(w: World, life: Life) -> None:
    w.seeded["conflict_product"] = conflict(w, life, w.at(0.4), first="decline", second="accept")


def opt_out(w: World, life: Life) -> None:
    news = w.campaigns["NEWSLETTER"]
    rec = consent(w, life, news.starts + 2 * DAY, channel="email", granted=False)
    touch(w, life, news.starts + 10 * DAY, news, after=rec, mind_opt_out=False)


def open_complaint_touch(w: World, life: Life) -> None:
    at = w.at(0.62)
    complaint(w, life, at, category="product", severity="high", fate="reopen")
    touch(w, life, at + 4 * HOUR, w.campaigns["NEWSLETTER"], mind_opt_out=False)
    contact(w, life, at + 6 * HOUR, channel="phone", direction="out", subject="Upgrade offer")
    purchase(w, life, at + 7 * HOUR, late=0)
    complaint(w, life, w.at(0.3), category="user_error", severity="low", fate="resolve")


def unanswered_request(w: World, life: Life) -> None:
    request(w, life, w.at(0.2), kind="callback", answered=True)
    request(w, life, w.at(0.5), kind="repair", answered=False)
    churn(w, life, w.at(0.7), "product")


def broken_promise(w: World, life: Life) -> None:
    promise(w, life, w.at(0.35), category="delivery", fate="broken")
    promise(w, life, w.at(0.36), category="follow_up", fate="kept")
    promise(w, life, w.at(0.37), category="price", fate="cancelled")
    churn(w, life, w.at(0.8), "service")


def overdue_promise(w: World, life: Life) -> None:
    promise(w, life, w.at(0.55), category="service", fate="overdue")
    promise(w, life, w.at(0.56), category="refund", fate="overdue-kept")


def late_recorded(w: World, life: Life) -> None:
    contact(w, life, w.at(0.45), late=1)
    purchase(w, life, w.at(0.46), late=1)


def corrected(w: World, life: Life) -> None:
    at = w.at(0.25)
    order = purchase(w, life, at, late=0)
    call, call_rec = contact(w, life, at + DAY, late=0)
    wrong, wrong_rec = contact(w, life, at + 2 * DAY, late=0)
    w.say(
        life,
        m.CorrectEntry,
        "compliance",
        at + 3 * DAY,
        after=order.rec,
        entry_id=order.entry_id,
        fields={"amount": str(money(order.amount * Decimal("0.9")))},
        reason="The import missed the 10 % discount on the invoice",
    )
    w.say(
        life,
        m.CorrectEntry,
        "compliance",
        at + 6 * DAY,
        after=call_rec,
        entry_id=call,
        fields={"occurred_at": (at + DAY - 2 * HOUR).isoformat()},
        reason="The call was earlier",
    )
    w.say(
        life,
        m.RetractEntry,
        "compliance",
        at + 7 * DAY,
        after=wrong_rec,
        entry_id=wrong,
        reason="Logged for the wrong customer",
    )
    survey(w, life, at + 8 * DAY)


def double_material(w: World, life: Life) -> None:
    at = w.at(0.62)
    touch(w, life, at, w.campaigns["BROCHURE-DE"], mind_opt_out=False)
    touch(w, life, at + 12 * DAY, w.campaigns["NEWSLETTER"], mind_opt_out=False)
    quote(w, life, w.at(0.3), fate="expire")
    quote(w, life, w.at(0.32), fate="withdraw")


def churned_and_won_back(w: World, life: Life) -> None:
    churn(w, life, w.at(0.3), "price")
    win_back(w, life, w.at(0.42))
    profile(w, life, w.at(0.43))
    churn(w, life, w.at(0.85), "self_change")


def handover(w: World, life: Life) -> None:
    contact(w, life, w.departure - 14 * DAY, late=0)
    quote(w, life, w.departure - 12 * DAY, rep=DEPARTING, fate="open")
    promise(w, life, w.departure - 8 * DAY, rep=DEPARTING, category="follow_up", fate="open")


STORIES: tuple[tuple[str, Callable[[World, Life], None]], ...] = (
    ("conflict_customer", conflicting_quotes),
    ("opt_out_customer", opt_out),
    ("open_complaint_touch_customer", open_complaint_touch),
    ("unanswered_request_customer", unanswered_request),
    ("broken_promise_customer", broken_promise),
    ("overdue_promise_customer", overdue_promise),
    ("late_recorded_customer", late_recorded),
    ("corrected_customer", corrected),
    ("double_material_customer", double_material),
    ("churned_customer", churned_and_won_back),
    ("handover_customer", handover),
)


def plan_world(seed: int, customers: int, start: datetime, days: int) -> World:
    w = World(seed, start, days)
    staff(w)
    campaigns(w)
    for index in range(1, customers + 1):
        if index > len(STORIES):
            life = register(w, index)
            hand_over(w, life)
            live(w, life)
            continue
        name, story = STORIES[index - 1]
        owner = DEPARTING if story is handover else pick_owner(w, start + DAY, avoid=(DEPARTING,))
        life = register(w, index, owner=owner, at=start + w.days(1, 5))
        life.seeded, w.seeded[name] = True, life.ref
        hand_over(w, life, certain=True)
        live(w, life, churns=False)
        story(w, life)
    return w


# -- running the plan ---------------------------------------------------------------------------


def windows(planned: list[Planned], size: int) -> Iterator[list[Planned]]:
    """Runs of at most ``size`` commands, in recording order."""
    for start in range(0, len(planned), size):
        yield planned[start : start + size]


def build_world(
    app: Ledger,
    *,
    seed: int = 7,
    customers: int = 3000,
    start: datetime | None = None,
    days: int = 730,
    progress: Callable[[int], None] | None = None,
    batch_size: int = 500,
    recorded: Callable[[list[Planned]], list[Planned]] | None = None,
) -> DemoSummary:
    """Plan the world of ``seed`` and write it to ``app``, ``batch_size`` commands at a time,
    in the order of recording (``recorded``: changes when commands are recorded)."""
    if customers < MIN_CUSTOMERS or days < MIN_DAYS:
        raise ValueError(
            f"a demo world needs at least {MIN_CUSTOMERS} customers and {MIN_DAYS} "
            f"days, not {customers} customers and {days} days"
        )
    w = plan_world(seed, customers, start or DEFAULT_START, days)
    planned = sorted(recorded(w.planned) if recorded else w.planned, key=lambda p: p.recorded_at)
    counts: Counter[str] = Counter()
    rejections: list[str] = []
    for window in windows(planned, batch_size):
        outcomes = app.execute_many(
            [p.command for p in window],
            actor=[p.actor for p in window],
            recorded_at=[p.recorded_at for p in window],
        )
        for p, outcome in zip(window, outcomes, strict=True):
            if isinstance(outcome, LedgerError):
                rejections.append(f"{p.command.command_id} {type(p.command).__name__}: {outcome}")
            elif not outcome.duplicate:
                counts.update(e.type for e in outcome.events)
        if progress is not None:
            progress(len(window))
    happened = [p.command.occurred_at for p in planned if p.command.occurred_at is not None]
    return DemoSummary(
        customers=customers,
        reps=len(REPS),
        campaigns=len(w.campaigns),
        commands=len(planned),
        events=sum(counts.values()),
        rejected=len(rejections),
        departed_rep=DEPARTING,
        first_day=min(happened),
        last_day=max(happened),
        counts=dict(counts),
        seeded=w.seeded,
        rejections=rejections[:20],
    )
