"""Buy-till-you-die figures: each customer's purchase summary as of a date, and the BG/NBD
model (Fader, Hardie & Lee 2005, "Counting your customers the easy way") fitted to it.

The summary follows the convention of these models, counting in days (purchases on one day
are one purchase) and reporting in days or weeks:
- frequency: the number of days with a purchase after the first one (repeat purchase days);
- recency: from the first purchase day to the last one;
- T: from the first purchase day to the end of the period (the as-of date);
- monetary value: the mean of the repeat purchase days' totals (0 without repeat purchases).

The model is fitted by maximum likelihood with scipy: the maintained libraries that offer
BG/NBD either stopped being maintained (lifetimes) or bring a probabilistic-programming stack
(PyMC) for what is a four-parameter likelihood.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

from ledger.errors import CommandInvalid
from ledger.sql import ViewDb, iso, parse_iso

UNITS = {"days": 1, "weeks": 7}


@dataclass(frozen=True)
class Summary:
    customer: str
    frequency: int
    recency: float
    T: float
    monetary_value: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer": self.customer,
            "frequency": self.frequency,
            "recency": round(self.recency, 4),
            "T": round(self.T, 4),
            "monetary_value": str(self.monetary_value),
        }


def summaries(
    tx: ViewDb, as_of: datetime, *, unit: str = "weeks", currency: str | None = None
) -> list[Summary]:
    """Every customer with a purchase on or before ``as_of``, by reference."""
    if unit not in UNITS:
        raise CommandInvalid(f"unit must be one of {', '.join(UNITS)}", where="unit")
    rows = tx.rows(
        "SELECT customer, occurred_at, amount, currency FROM {purchases} "
        "WHERE retracted = ? AND occurred_at <= ?",
        (False, iso(as_of)),
    )
    currencies = {row["currency"] for row in rows}
    if currency is None and len(currencies) > 1:
        raise CommandInvalid(
            f"the purchases are in {', '.join(sorted(currencies))}; give one currency to summarise",
            where="currency",
        )
    days: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        if currency is None or row["currency"] == currency:
            moment = parse_iso(row["occurred_at"])
            assert moment is not None
            days[row["customer"]][moment.date()] += Decimal(row["amount"])
    end, width = as_of.date(), UNITS[unit]
    found = []
    for customer in sorted(days):
        totals = days[customer]
        first, last = min(totals), max(totals)
        repeats = [total for day, total in totals.items() if day != first]
        value = sum(repeats, Decimal(0)) / len(repeats) if repeats else Decimal(0)
        found.append(
            Summary(
                customer,
                len(repeats),
                (last - first).days / width,
                (end - first).days / width,
                value.quantize(Decimal("0.01"), ROUND_HALF_UP),
            )
        )
    return found


@dataclass(frozen=True)
class BgNbd:
    """Fitted parameters: purchase rates are gamma(r, alpha); dropout probabilities are
    beta(a, b). Time is in the summary's unit."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "r": round(self.r, 4),
            "alpha": round(self.alpha, 4),
            "a": round(self.a, 4),
            "b": round(self.b, 4),
            "log_likelihood": round(self.log_likelihood, 2),
            "customers": self.customers,
        }

    def p_alive(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Floats:
        """The probability that a customer with this history is still active."""
        return self._p_alive(*floats(x, t_x, T))

    def _p_alive(self, x: Floats, t_x: Floats, T: Floats) -> Floats:
        odds = np.where(
            x > 0,
            self.a
            / (self.b + np.maximum(x, 1) - 1)
            * ((self.alpha + T) / (self.alpha + t_x)) ** (self.r + x),
            0.0,
        )
        return np.asarray(1.0 / (1.0 + odds), float)

    def expected_purchases(
        self, horizon: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
    ) -> Floats:
        """Expected purchases in the next ``horizon`` units, given the history."""
        return self._expected_purchases(horizon, *floats(x, t_x, T))

    def _expected_purchases(self, horizon: float, x: Floats, t_x: Floats, T: Floats) -> Floats:
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = horizon / (alpha + T + horizon)
        head = (a + b + x - 1) / (a - 1)
        tail = 1 - ((alpha + T) / (alpha + T + horizon)) ** (r + x) * hyp2f1(
            r + x, b + x, a + b + x - 1, z
        )
        return np.asarray(head * tail * self._p_alive(x, t_x, T), float)


Floats = npt.NDArray[np.float64]


def floats(*values: ArrayLike) -> tuple[Floats, ...]:
    return tuple(np.asarray(v, float) for v in values)


def log_likelihood(params: Floats, x: Floats, t_x: Floats, T: Floats) -> Floats:
    """Each customer's log-likelihood under BG/NBD (Fader, Hardie & Lee 2005, eq. 6)."""
    r, alpha, a, b = params
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
    stays = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    drops = np.where(
        repeat,
        np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return np.asarray(head + np.logaddexp(stays, drops), float)


def fit_bgnbd(found: list[Summary]) -> BgNbd:
    """Maximum-likelihood BG/NBD parameters for these summaries."""
    if len(found) < 4:
        raise CommandInvalid(
            f"{len(found)} customers with purchases: too few to fit a model of four parameters",
            where="as_of",
        )
    x = np.array([s.frequency for s in found], float)
    t_x = np.array([s.recency for s in found], float)
    T = np.array([s.T for s in found], float)

    def loss(logs: Floats) -> float:
        return -float(np.sum(log_likelihood(np.exp(logs), x, t_x, T)))

    best = minimize(
        loss,
        np.zeros(4),
        method="Nelder-Mead",
        options={"xatol": 1e-7, "fatol": 1e-7, "maxiter": 20_000, "maxfev": 20_000},
    )
    r, alpha, a, b = np.exp(best.x)
    return BgNbd(float(r), float(alpha), float(a), float(b), -float(best.fun), len(found))
