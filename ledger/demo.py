"""A realistic demo world: two years of a machine maker's sales, marketing and service.

``build_world`` plans every command first (one ``random.Random(seed)``, explicit ids, so one
seed is always one world), then runs them in recording order through ``execute_many``. A few
named customers carry scripted stories, so even a tiny world holds every kind of command and
every case the views must find; the rest live random lives of skewed intensity.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ledger.commands import models as m
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from ledger.application import Ledger

DAY, HOUR, MINUTE = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)
DEFAULT_START = datetime(2024, 11, 1, tzinfo=timezone.utc)
LATE_SHARE = 0.03
CHURN_PER_DAY = 0.0005
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
    rejections: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RepSpec:
    ref: str
    name: str
    team: str
    manager: str | None
    owns: float  # weight as the owner of new customers


REPS = (
    RepSpec("REP-1", "王伟", "east", None, 1), RepSpec("REP-2", "Anna Schmidt", "key-accounts", None, 1),
    RepSpec("REP-8", "刘洋", "marketing", None, 0), RepSpec("REP-10", "赵磊", "service", None, 0),
    RepSpec("REP-3", "李娜", "east", "REP-1", 3), RepSpec("REP-4", "Tom Baker", "east", "REP-1", 1.5),
    RepSpec("REP-5", "张敏", "south", "REP-1", 1), RepSpec("REP-6", "陈静", "south", "REP-5", 1.5),
    RepSpec("REP-7", "Lukas Weber", "key-accounts", "REP-2", 1.5),
    RepSpec("REP-9", "Emily Clark", "marketing", "REP-8", 0),
    RepSpec("REP-11", "Sophie Martin", "service", "REP-10", 0),
    RepSpec("REP-12", "黄晓明", "south", "REP-5", 1.5),
)
BY_REF = {r.ref: r for r in REPS}
DEPARTING, LATE_HIRE, MOVER, SERVICE = "REP-3", "REP-12", "REP-4", ("REP-10", "REP-11")

CATALOGUE = {  # list prices in CNY
    "LX-200 laser cutter": 186_000, "LX-50 desktop cutter": 42_000,
    "CNC-5 milling centre": 320_000, "Spare parts kit": 3_800, "Service plan Gold": 12_000,
    "Service plan Basic": 4_800, "Operator training": 6_500, "Filter cartridges (10)": 900,
}
RATES = {"CNY": Decimal(1), "EUR": Decimal("0.128"), "USD": Decimal("0.139")}
COMPETITORS = ("Trumpf", "Bystronic", "大族激光", "宏山激光", "Amada")
SURVEY_ITEMS = ("product_quality", "delivery", "value_for_money", "after_sales_service",
                "rep_competence")
LEVELS = (("very_satisfied", 15), ("satisfied", 30), ("fairly_satisfied", 20), ("neutral", 12),
          ("fairly_dissatisfied", 10), ("dissatisfied", 8), ("very_dissatisfied", 5))
ZH_SURNAMES, ZH_GIVEN = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高", (
    "伟", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "秀英", "建华", "晓东", "海燕", "志强")
LATIN_FIRST = ("Anna", "Lukas", "Emma", "Jonas", "Sophie", "Felix", "Olivia", "James", "Laura",
               "Max", "Hannah", "Oliver", "Julia", "Thomas", "Charlotte", "Daniel")
LATIN_LAST = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Smith", "Jones", "Taylor",
              "Brown", "Wilson", "Becker", "Hoffmann", "Evans", "Clarke", "Wagner")
ZH_CITIES, ZH_FIRMS = ("上海", "北京", "深圳", "杭州", "苏州", "广州", "成都"), (
    "华腾机械", "宏达精密制造", "金鼎电子科技", "瑞丰汽车配件", "恒信包装", "远航重工")
LATIN_FIRMS = (" Maschinenbau GmbH", " Präzisionstechnik AG", " Engineering Ltd", " & Sons Ltd",
               " Metalworks GmbH")
TEXT = {
    "subject": (("产品咨询", "报价跟进", "交货时间确认", "售后回访", "年度合同续签"),
                ("Product enquiry", "Quote follow-up", "Delivery date", "After-sales check-in",
                 "Contract renewal")),
    "price": (("下次订单给予5%折扣",), ("5% off the next order",)),
    "delivery": (("保证两周内发货",), ("Ship within two weeks",)),
    "service": (("安排工程师上门检修",), ("Send an engineer on site",)),
    "follow_up": (("下周回电确认方案",), ("Call back next week with a proposal",)),
    "refund": (("退还运费",), ("Refund the shipping cost",)),
    "other": (("寄送样品",), ("Send samples",)),
    "complaint": (("设备运行噪音过大", "发票金额有误", "交货延迟三周", "客服电话无人接听"),
                  ("The machine is far too loud", "The invoice amount is wrong",
                   "Delivery was three weeks late", "Nobody answers the service line")),
    "resolution": (("已更换零件并回访客户", "已开具更正发票"),
                   ("Replaced the part and called back", "Issued a corrected invoice")),
    "request": (("请尽快回电", "设备故障需要维修", "报名参加培训"),
                ("Please call back", "Machine down, needs repair", "Sign me up for training")),
}
CAMPAIGNS = (  # slug, channel, budget, currency, material, department, from, to (share of span)
    ("WINTER-MAIL", "email", 80_000, "CNY", "winter-catalogue", "marketing", 0.02, 0.15),
    ("EXPO", "event", 120_000, "EUR", "expo-invitation", "sales", 0.20, 0.30),
    ("SPRING-SMS", "sms", 20_000, "CNY", "spring-offer-sms", "marketing", 0.35, 0.45),
    ("BROCHURE-DE", "letter", 15_000, "EUR", "product-brochure", "marketing", 0.45, 0.70),
    ("NEWSLETTER", "email", 30_000, "USD", "product-brochure", "sales", 0.60, 0.98),
    ("LAUNCH", "event", 150_000, "CNY", "launch-invitation", "sales", 0.80, 0.97),
)


@dataclass
class Planned:
    recorded_at: datetime
    n: int
    actor: str
    command: m.Command


@dataclass(frozen=True)
class CampaignPlan:
    ref: str
    channel: str
    material: str
    department: str
    starts: datetime
    ends: datetime


@dataclass
class Life:
    """What the generator knows of one customer, so it only plans commands that succeed."""

    ref: str
    locale: str
    currency: str
    rec: datetime
    owners: list[tuple[datetime, str]]
    seeded: bool = False
    consents: list[tuple[datetime, str, bool]] = field(default_factory=list)
    amendable: list[tuple[str, str, datetime, datetime]] = field(default_factory=list)
    last_churn: datetime | None = None

    @property
    def lang(self) -> int:
        return 0 if self.locale == "zh-CN" else 1

    def owner_at(self, at: datetime) -> str:
        return [rep for since, rep in self.owners if since <= at][-1]

    def opted_out(self, channel: str, at: datetime) -> bool:
        changes = [granted for when, ch, granted in self.consents if ch == channel and when <= at]
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
        self.campaigns: list[CampaignPlan] = []
        self.seeded: dict[str, str] = {"departed_rep": DEPARTING}

    def at(self, share: float) -> datetime:
        return self.start + (self.end - self.start) * share

    def days(self, low: float, high: float) -> timedelta:
        return timedelta(days=self.rng.uniform(low, high))

    def new_id(self, prefix: str) -> str:
        self.ids[prefix] += 1
        return f"{prefix}-{self.ids[prefix]:06d}"

    def text(self, life: Life, key: str) -> str:
        return self.rng.choice(TEXT[key][life.lang])

    def active(self, rep: str, at: datetime) -> bool:
        return self.hired[rep] + HOUR <= at and not (rep == DEPARTING and at >= self.departure)

    def rep_for(self, life: Life, at: datetime, rep: str | None = None) -> str:
        rep = rep or life.owner_at(at)
        return rep if self.active(rep, at) else BY_REF[rep].manager or "REP-1"

    def emit(self, cls: type[m.Command], actor: str, at: datetime, *, after: datetime | None = None,
             late: bool | None = False, **fields: Any) -> datetime:
        rec = at + timedelta(minutes=self.rng.uniform(2, 45))
        if late is None or (late and self.rng.random() < LATE_SHARE):
            lag = at + self.days(1, 20)
            rec = lag if lag < self.end and (actor != DEPARTING or lag < self.departure) else rec
        rec = max(rec, after + MINUTE) if after else rec
        if actor == DEPARTING and rec >= self.departure:
            actor = "REP-1"
        n = len(self.planned)
        command = cls(command_id=f"demo:{self.seed}:{n}", occurred_at=at, **fields)
        self.planned.append(Planned(rec, n, actor, command))
        return rec

    def say(self, life: Life, cls: type[m.Command], actor: str, at: datetime, *,
            after: datetime | None = None, late: bool | None = False, **fields: Any) -> datetime:
        return self.emit(cls, actor, at, after=max(after or life.rec, life.rec), late=late,
                         customer=life.ref, **fields)

    def before_end(self, at: datetime) -> bool:
        return at < self.end - HOUR


# -- reps and campaigns -------------------------------------------------------------------------


def staff(w: World) -> None:
    for rep in REPS:
        w.emit(m.HireRep, f"manager:{rep.manager}" if rep.manager else "admin", w.hired[rep.ref],
               ref=rep.ref, name=rep.name, team=rep.team, manager=rep.manager,
               email=f"{rep.ref.lower()}@demo-machines.example")
    w.emit(m.MoveRep, "manager:REP-2", w.at(0.5), rep=MOVER, team="key-accounts", manager="REP-2",
           reason="Takes over the growing workshop accounts")
    w.emit(m.DepartRep, "manager:REP-1", w.departure, rep=DEPARTING,
           reason="Resigned; joins a competitor")


def campaigns(w: World) -> None:
    for slug, channel, budget, currency, material, department, begin, finish in CAMPAIGNS:
        starts, ends = w.at(begin), w.at(finish)
        plan = CampaignPlan(f"CMP-{starts.year}-{slug}", channel, material, department, starts, ends)
        w.campaigns.append(plan)
        actor = "manager:REP-8" if department == "marketing" else "manager:REP-1"
        rec = w.emit(m.LaunchCampaign, actor, starts - 7 * DAY, ref=plan.ref, name=slug.title(),
                     channel=channel, budget=Decimal(budget), currency=currency, starts_at=starts,
                     ends_at=ends, material=material, department=department)
        for share in sorted(w.rng.uniform(0, 1) for _ in range(w.rng.randint(2, 4))):
            amount = Decimal(budget * w.rng.uniform(0.1, 0.35)).quantize(Decimal("0.01"))
            rec = w.emit(m.RecordCampaignCost, actor, starts + (ends - starts) * share, after=rec,
                         campaign=plan.ref, amount=amount, currency=currency, note="Invoice")
        if w.before_end(closing := ends + w.days(3, 15)):
            w.emit(m.CloseCampaign, actor, closing, after=rec, campaign=plan.ref, reason="Ended")


# -- episodes: one interaction and the outcomes it will have ---------------------------------


def contact(w: World, life: Life, at: datetime, *, channel: str | None = None,
            direction: str | None = None, subject: str | None = None,
            late: bool | None = False) -> tuple[str, datetime]:
    channel = channel or w.rng.choice(("visit", "phone", "phone", "email", "email", "chat", "web",
                                       "letter", "sms"))
    contact_id = w.new_id("K")
    rec = w.say(life, m.LogContact, w.rep_for(life, at), at, late=late, contact_id=contact_id,
                rep=w.rep_for(life, at), channel=channel,
                direction=direction or w.rng.choice(("in", "out")),
                subject=subject or w.text(life, "subject"))
    return contact_id, rec


def request(w: World, life: Life, at: datetime, *, kind: str | None = None,
            answered: bool | None = None) -> None:
    rep, request_id = w.rep_for(life, at), w.new_id("R")
    respond_by = at + w.days(1, 7)
    rec = w.say(life, m.ReceiveRequest, rep, at, late=True, request_id=request_id, rep=rep,
                kind=kind or w.rng.choice(("callback", "repair", "registration", "quote", "info")),
                channel=w.rng.choice(("phone", "email", "web", "chat")), respond_by=respond_by,
                summary=w.text(life, "request"))
    answer = at + (respond_by - at) * w.rng.uniform(0.1, 1.6)
    if (w.rng.random() < 0.85 if answered is None else answered) and w.before_end(answer):
        w.say(life, m.AnswerRequest, w.rep_for(life, answer, rep), answer, after=rec,
              request_id=request_id, rep=w.rep_for(life, answer, rep), channel="phone")


def quote(w: World, life: Life, at: datetime, *, rep: str | None = None,
          product: str | None = None, factor: float | None = None, fate: str | None = None,
          fate_at: datetime | None = None) -> None:
    rep, quote_id = rep or w.rep_for(life, at), w.new_id("Q")
    product = product or w.rng.choice(list(CATALOGUE))
    price = (CATALOGUE[product] * RATES[life.currency] * Decimal(factor or w.rng.uniform(0.9, 1.05)))
    valid_until = at + w.days(14, 45)
    quantity = Decimal(w.rng.choice((1, 1, 2, 3) if CATALOGUE[product] > 10_000 else (2, 5, 10)))
    discount = Decimal(w.rng.choice(("0", "0", "0.05", "0.1", "0.15")))
    rec = w.say(life, m.IssueQuote, rep, at, late=True, quote_id=quote_id, rep=rep, product=product,
                quantity=quantity, unit_price=price.quantize(Decimal(1)), currency=life.currency,
                discount=discount, valid_until=valid_until)
    fate = fate or w.rng.choices(("accept", "decline", "expire", "withdraw", "open"),
                                 (40, 20, 22, 8, 10))[0]
    when = fate_at or {"expire": valid_until + w.days(0.05, 1)}.get(
        fate, at + (valid_until - at) * w.rng.uniform(0.1, 0.9))
    if fate == "open" or not w.before_end(when) or (
            rep == DEPARTING and when >= w.departure and w.rng.random() < 0.6):
        return
    actor = "scheduler" if fate == "expire" else w.rep_for(life, when, rep)
    cls = {"accept": m.AcceptQuote, "decline": m.DeclineQuote, "expire": m.ExpireQuote,
           "withdraw": m.WithdrawQuote}[fate]
    rec = w.say(life, cls, actor, when, after=rec, quote_id=quote_id)
    total = (price * quantity * (1 - discount)).quantize(Decimal("0.01"))
    if fate == "accept" and w.before_end(bought := when + w.days(1, 10)):
        purchase(w, life, bought, after=rec, amount=total, product=product, quantity=quantity,
                 quote_id=quote_id)
        if w.rng.random() < 0.4:
            promise(w, life, when, category="delivery", quote_id=quote_id, after=rec)


def purchase(w: World, life: Life, at: datetime, *, after: datetime | None = None,
             amount: Decimal | None = None, late: bool | None = True, **fields: Any) -> str:
    if amount is None:
        fields["product"] = w.rng.choice(("Spare parts kit", "Filter cartridges (10)",
                                          "Service plan Basic", "Operator training"))
        fields["quantity"] = Decimal(w.rng.randint(1, 12))
        amount = (CATALOGUE[fields["product"]] * fields["quantity"] * RATES[life.currency])
    amount = amount.quantize(Decimal("0.01"))
    cost = (amount * Decimal(w.rng.uniform(0.55, 0.8))).quantize(Decimal("0.01"))
    order_id = w.new_id("O")
    rec = w.say(life, m.RecordPurchase, "import", at, after=after, late=late, order_id=order_id,
                amount=amount, currency=life.currency, rep=w.rep_for(life, at),
                cost=cost if w.rng.random() < 0.8 else None, **fields)
    life.amendable.append((order_id, "purchase", at, rec))
    return order_id


def promise(w: World, life: Life, at: datetime, *, category: str | None = None,
            fate: str | None = None, rep: str | None = None, after: datetime | None = None,
            **links: Any) -> None:
    rep, promise_id = rep or w.rep_for(life, at), w.new_id("P")
    category = category or w.rng.choice(("price", "delivery", "service", "follow_up", "refund",
                                         "other"))
    due_by = at + w.days(2, 30)
    rec = w.say(life, m.MakePromise, rep, at, after=after, late=True, promise_id=promise_id,
                rep=rep, category=category, due_by=due_by, text=w.text(life, category), **links)
    fate = fate or w.rng.choices(("kept", "broken", "cancelled", "overdue-kept", "overdue-broken",
                                  "overdue", "open"), (55, 10, 8, 8, 4, 5, 10))[0]
    if fate.startswith("overdue") and w.before_end(marked := due_by + w.days(0.05, 1)):
        rec = w.say(life, m.MarkPromiseOverdue, "scheduler", marked, after=rec,
                    promise_id=promise_id)
        fate = fate.removeprefix("overdue").strip("-") or "open"
        due_by = marked + w.days(1, 10)
    when = {"kept": at + (due_by - at) * w.rng.uniform(0.2, 1)}.get(fate, due_by + w.days(1, 10))
    if fate in ("open", "overdue") or not w.before_end(when) or (
            rep == DEPARTING and when >= w.departure and w.rng.random() < 0.6):
        return
    cls = {"kept": m.KeepPromise, "broken": m.BreakPromise, "cancelled": m.CancelPromise}[fate]
    w.say(life, cls, w.rep_for(life, when, rep), when, after=rec, promise_id=promise_id)


def complaint(w: World, life: Life, at: datetime, *, category: str | None = None,
              severity: str | None = None, fate: str | None = None) -> str:
    handler, complaint_id = w.rng.choice(SERVICE), w.new_id("C")
    rec = w.say(life, m.FileComplaint, handler, at, late=LATE_SHARE, complaint_id=complaint_id,
                category=category or w.rng.choice(("product", "service", "delivery", "billing",
                                                   "staff", "user_error", "other")),
                severity=severity or w.rng.choices(("low", "medium", "high", "critical"),
                                                   (4, 4, 2, 1))[0],
                description=w.text(life, "complaint"), respond_by=at + w.days(1, 10), rep=handler)
    if w.rng.random() < 0.3:
        promise(w, life, at + w.days(0, 2), category=w.rng.choice(("refund", "service")),
                complaint_id=complaint_id, after=rec)
    fate = fate or w.rng.choices(("resolve", "escalate", "reopen", "open"), (55, 15, 10, 20))[0]
    if fate in ("escalate", "reopen") and w.before_end(at := at + w.days(0.3, 3)):
        rec = w.say(life, m.EscalateComplaint, handler, at, after=rec, complaint_id=complaint_id,
                    to="REP-10" if handler != "REP-10" else "quality team", reason="Customer upset")
    rounds = {"open": 0, "reopen": 2}.get(fate, 1)
    for round_ in range(1, rounds + 1):
        if not w.before_end(at := at + w.days(1, 20)):
            break
        rec = w.say(life, m.ResolveComplaint, handler, at, after=rec, complaint_id=complaint_id,
                    resolution=w.text(life, "resolution"),
                    satisfied=round_ == rounds and w.rng.random() < 0.7)
        if round_ < rounds and w.before_end(at := at + w.days(1, 10)):
            rec = w.say(life, m.ReopenComplaint, handler, at, after=rec,
                        complaint_id=complaint_id, reason="The fault came back")
    return complaint_id


def survey(w: World, life: Life, at: datetime) -> None:
    survey_id = w.new_id("S")
    items = {item: w.rng.choices([name for name, _ in LEVELS], [wt for _, wt in LEVELS])[0]
             for item in w.rng.sample(SURVEY_ITEMS, w.rng.randint(3, 5))}
    rec = w.say(life, m.RecordSatisfaction, "survey", at, late=True, survey_id=survey_id,
                items=items, rep=w.rep_for(life, at), product=w.rng.choice(list(CATALOGUE)))
    life.amendable.append((survey_id, "satisfaction", at, rec))


def consent(w: World, life: Life, at: datetime, *, channel: str | None = None,
            granted: bool | None = None) -> datetime:
    channel = channel or w.rng.choice(("email", "sms", "letter"))
    granted = life.opted_out(channel, at) if granted is None else granted
    life.consents.append((at, channel, granted))
    return w.say(life, m.ChangeConsent, "web", at, consent_id=w.new_id("CS"), channel=channel,
                 purpose="marketing", granted=granted)


def touch(w: World, life: Life, at: datetime, plan: CampaignPlan, *, department: str | None = None,
          after: datetime | None = None) -> datetime | None:
    if life.opted_out(plan.channel, at) and not after and w.rng.random() < 0.85:
        return None
    touch_id = w.new_id("T")
    rec = w.say(life, m.TouchCampaign, "import", at, after=after, late=after is None,
                touch_id=touch_id, campaign=plan.ref, department=department)
    life.amendable.append((touch_id, "touch", at, rec))
    if plan.channel == "event" and w.rng.random() < 0.25:
        contact(w, life, at + w.days(0, 1), channel="event", direction="in",
                subject="Visited our stand" if life.lang else "参观展位")
    if w.rng.random() < 0.03 and w.before_end(again := at + w.days(3, 25)):
        other = "sales" if plan.department == "marketing" else "marketing"
        w.say(life, m.TouchCampaign, "import", again, after=rec, touch_id=w.new_id("T"),
              campaign=plan.ref, department=other)
    return rec


def profile(w: World, life: Life, at: datetime) -> None:
    change = w.rng.choice(({"phone": f"+86 139 {w.rng.randint(1000, 9999)} 0{w.rng.randint(100, 999)}"},
                           {"email": f"{life.ref.lower()}.new@mail.example"},
                           {"segment": w.rng.choice(("enterprise", "smb", "vip", "retail"))}))
    w.say(life, m.UpdateProfile, w.rep_for(life, at), at, **change)


def amend(w: World, life: Life, at: datetime, *, retract: bool = False) -> None:
    choices = [e for e in life.amendable if e[2] < at - DAY and (e[1] != "touch" or retract)]
    if not choices:
        return
    entry_id, kind, happened, rec = entry = w.rng.choice(choices)
    life.amendable.remove(entry)
    if retract:
        w.say(life, m.RetractEntry, "compliance", at, after=rec, entry_id=entry_id,
              reason="Recorded twice by the import")
        return
    fields: dict[str, Any] = {
        "purchase": {"amount": str(w.rng.randint(100, 90_000))},
        "satisfaction": {"items": {"delivery": "satisfied", "after_sales_service": "neutral"}},
        "contact": {"occurred_at": (happened - w.days(0.05, 2)).isoformat()},
    }[kind]
    w.say(life, m.CorrectEntry, "compliance", at, after=rec, entry_id=entry_id, fields=fields,
          reason="Corrected after checking the original document")


def churn(w: World, life: Life, at: datetime, defection: str | None = None) -> None:
    defection = defection or w.rng.choices(("price", "product", "service", "self_change"),
                                           (35, 25, 25, 15))[0]
    rival = w.rng.choice(COMPETITORS) if defection != "self_change" else None
    life.last_churn = w.say(life, m.RecordChurn, w.rep_for(life, at), at, after=life.last_churn,
                            churn_id=w.new_id("CH"), defection_type=defection, competitor=rival,
                            reason=f"Moved to {rival}" if rival else "Closed the workshop")


def win_back(w: World, life: Life, at: datetime) -> None:
    rep = w.rep_for(life, at)
    life.last_churn = w.say(life, m.RecordWinBack, rep, at, after=life.last_churn, rep=rep,
                            reason="Won back with a service plan offer")


def conflict(w: World, life: Life, at: datetime, **fates: Any) -> str:
    first = w.rep_for(life, at)
    second = "REP-7" if first != "REP-7" else "REP-2"
    product = w.rng.choice(("LX-200 laser cutter", "CNC-5 milling centre", "Service plan Gold"))
    quote(w, life, at, rep=first, product=product, factor=1.0, fate=fates.get("first"))
    quote(w, life, at + w.days(1, 6), rep=second, product=product, factor=0.92,
          fate=fates.get("second"))
    return product
