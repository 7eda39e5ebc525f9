"""Field types shared by the commands: limits, enums, money, time."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints

from ledger.ids import normal_ref

# ISO 4217 active codes.
CURRENCIES = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
    GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
    KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
    MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF
    SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD
    TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWG""".split()
)


def _text(max_length: int) -> Any:
    return Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)
    ]


Name = _text(200)
Short = _text(200)
Text = _text(4000)
# Control (Cc), format (Cf: zero-width space, byte-order mark, direction marks) and surrogate
# (Cs) characters: nobody can see or type them, so no reference may hold one.
UNSEEN = frozenset({"Cc", "Cf", "Cs"})


def reference(text: str) -> str:
    """A reference (customer, rep, campaign, entry) as the ledger keeps it, wherever it comes
    in: normalised (``ids.normal_ref``: look-alikes are one), and refused with a ValueError
    if it holds a character that cannot be seen."""
    if text.isascii() and text.isprintable():
        return text.strip()
    found = normal_ref(text)
    for char in found:
        if unicodedata.category(char) in UNSEEN:
            name = unicodedata.name(char, "a control character")
            raise ValueError(
                f"a reference cannot hold U+{ord(char):04X} ({name}), which "
                "cannot be seen; type the reference without it"
            )
    return found


def _reference(value: Any) -> Any:
    return reference(value) if isinstance(value, str) else value  # pydantic names the rest


Ref = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\s#/?]+$"),
    BeforeValidator(_reference),
]
EntryId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\s#/?]+$"),
    BeforeValidator(_reference),
]
CommandId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
Phone = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=3,
        max_length=40,
        # as typed on a Chinese keyboard too: full-width digits, signs and spaces
        pattern="^[+\uff0b]?[0-9\uff10-\uff19 \u3000()\uff08\uff09./\\-\uff0d]+$",
    ),
]


def currency_code(code: str) -> str:
    """An ISO 4217 code, upper case; ValueError names a code that is not one."""
    code = code.strip().upper()
    if code not in CURRENCIES:
        raise ValueError(f"{code!r} is not an ISO 4217 currency code (for example CNY, EUR, USD)")
    return code


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError(
            "give amounts as strings or integers, not floats: a float cannot hold "
            'money exactly (write "12.50", not 12.5)'
        )
    return value


def in_utc(value: datetime) -> datetime:
    """The instant in UTC (a time without a zone is read as UTC). An offset can carry a time
    at the calendar's edge past it (0001-01-01T00:30:00+01:00 is in year 0 in UTC): that is
    a ValueError saying so, not an OverflowError, so every parser of instants refuses it as
    bad input."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(
            f"{value.isoformat()} is outside the calendar in UTC, which runs from "
            "0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z; give an instant "
            "within it"
        ) from None


# Maps (or lists) within a command's field: a correction's fields, holding a survey's items.
MAX_NESTING = 2
NESTED_TOO_DEEP = (
    "nests maps or lists too deep: a value is text, a number, a date, or a "
    "survey's items (a map of item to level)"
)


def too_deep(value: Any, levels: int = MAX_NESTING) -> tuple[Any, ...] | None:
    """Where in ``value`` (its first key or index) a map or list lies more than ``levels``
    deep, if one does: found without recursion, so that no depth of JSON exhausts Python's
    stack here (a value 400 deep did, in the check for NUL characters)."""
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(value, 0, ())]
    while stack:
        item, depth, path = stack.pop()
        if type(item) is dict:
            children: Any = item.items()
        elif type(item) is list or type(item) is tuple:
            children = enumerate(item)
        else:
            continue
        if depth >= levels:
            return path
        stack.extend((child, depth + 1, path or (key,)) for key, child in children)
    return None


def _shallow(value: Any) -> Any:
    """A corrected value: a map of plain values at most (a survey's items), nothing deeper."""
    if too_deep(value, MAX_NESTING - 1) is not None:
        raise ValueError(NESTED_TOO_DEEP)
    return value


Corrected = Annotated[Any, AfterValidator(_shallow)]
Currency = Annotated[str, AfterValidator(currency_code)]
# The constraints before the float check: so pydantic checks digits and places in its core,
# not in Python (about 4 us an amount).
Money = Annotated[
    Decimal,
    Field(gt=0, max_digits=18, decimal_places=4, allow_inf_nan=False),
    BeforeValidator(_no_float),
]
Cost = Annotated[
    Decimal,
    Field(ge=0, max_digits=18, decimal_places=4, allow_inf_nan=False),
    BeforeValidator(_no_float),
]
# What a purchase came to: zero is an amount (a free or promotional order is still an order,
# and counts as a purchase), a negative one is not (a refund is a correction or retraction).
Amount = Cost
Quantity = Annotated[
    Decimal,
    Field(gt=0, max_digits=18, decimal_places=4, allow_inf_nan=False),
    BeforeValidator(_no_float),
]
Fraction = Annotated[
    Decimal,
    Field(
        ge=0,
        lt=1,
        max_digits=6,
        decimal_places=4,
        allow_inf_nan=False,
        description="a fraction off the unit price: 0.15 means 15 % off",
    ),
    BeforeValidator(_no_float),
]
Instant = Annotated[AwareDatetime, AfterValidator(in_utc)]
# An instant a query is asked about (since, until, as_of ...): one without a zone is UTC.
Moment = Annotated[datetime, AfterValidator(in_utc)]


class Channel(StrEnum):
    visit = "visit"
    phone = "phone"
    email = "email"
    letter = "letter"
    chat = "chat"
    event = "event"
    web = "web"
    sms = "sms"


class Direction(StrEnum):
    inbound = "in"
    outbound = "out"


class CustomerKind(StrEnum):
    person = "person"
    company = "company"


class RequestKind(StrEnum):
    callback = "callback"
    repair = "repair"
    registration = "registration"
    quote = "quote"
    info = "info"


class EventKind(StrEnum):
    """What kind of event a campaign is, when it is one."""

    seminar = "seminar"
    trade_show = "trade_show"
    training = "training"


class PromiseCategory(StrEnum):
    price = "price"
    delivery = "delivery"
    service = "service"
    follow_up = "follow_up"
    refund = "refund"
    other = "other"


class Purpose(StrEnum):
    marketing = "marketing"
    service = "service"
    research = "research"


class ComplaintCategory(StrEnum):
    product = "product"
    service = "service"
    delivery = "delivery"
    billing = "billing"
    staff = "staff"
    user_error = "user_error"
    other = "other"


class Severity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class Level(StrEnum):
    """The 7-level satisfaction scale, with its CSM score."""

    very_satisfied = "very_satisfied"
    satisfied = "satisfied"
    fairly_satisfied = "fairly_satisfied"
    neutral = "neutral"
    fairly_dissatisfied = "fairly_dissatisfied"
    dissatisfied = "dissatisfied"
    very_dissatisfied = "very_dissatisfied"

    @property
    def score(self) -> int:
        return LEVEL_SCORES[self]


LEVEL_SCORES = {
    Level.very_satisfied: 90,
    Level.satisfied: 60,
    Level.fairly_satisfied: 30,
    Level.neutral: 0,
    Level.fairly_dissatisfied: -30,
    Level.dissatisfied: -60,
    Level.very_dissatisfied: -90,
}


class DefectionType(StrEnum):
    price = "price"
    product = "product"
    service = "service"
    self_change = "self_change"
