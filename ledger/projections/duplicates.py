"""Likely duplicates: pairs of customers that are probably one, each with why, most likely
first.

Two customers are compared only when they share a key of the dossier view's ``match_keys``
(keyed hashes of a normalised phone, e-mail, company or name: ``ledger/matching.py``), never
all pairs. The same phone or e-mail, or the same company and a name key (张伟 and "Wei
Zhang"), is told from the hashes alone; the names of customers who share a company are
opened in memory (their keys read a chunk at a time) and scored for similar spellings. A
forgotten customer has no keys and opens to nothing: never one of a pair.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from ledger.matching import is_han, name_keys, similarity
from ledger.projections.dossier import Dossier, needed_views, reached_by
from ledger.sealing import keys_of, reveal, sealed_stream
from ledger.sql import Database

# How much each reason says that two records are one customer (0 to 1); reasons combine as
# independent evidence: 1 - (1 - a)(1 - b).
WEIGHTS = {"phone": 0.9, "email": 0.9, "company_name": 0.8}
SIMILAR = 88.0  # names of one company at least this alike (0-100) are a reason
SHARED_AT_MOST = 10  # a phone or e-mail of more customers is a switchboard, not a person's
BLOCK = 300  # customers of one company compared all with all; more: by their names' initials
WHY = {
    "phone": "same phone",
    "email": "same e-mail",
    "company_name": "same company and name",
    "company_similar_name": "same company, similar name",
}


@dataclass
class Pair:
    reasons: set[str] = field(default_factory=set)
    similar: float | None = None  # the names' similarity, when that is a reason

    @property
    def score(self) -> float:
        doubt = 1.0
        for reason in self.reasons:
            doubt *= 1 - WEIGHTS.get(reason, 0.0)
        if self.similar is not None:
            doubt *= 1 - (0.5 + 0.3 * (self.similar - SIMILAR) / (100 - SIMILAR))
        return 1 - doubt


def likely_duplicates(
    db: Database,
    *,
    reps: Sequence[str] | None = None,
    limit: int = 100,
    offset: int = 0,
    min_score: float = 0.0,
) -> dict[str, Any]:
    """Pairs of customers likely to be one, most likely first: ``limit`` from ``offset``,
    and how many there are (``total``). With ``reps``, only pairs of customers these reps
    hold (``ledger/authorization.py``). Needs the dossier view (and, with ``reps``, the
    views that tell who holds a customer)."""
    tables = {k: v for view in needed_views() for k, v in view.table_names().items()}
    if reps is None:
        tables = Dossier().table_names()
    with db.transaction(tables, commit=False) as tx:
        shared = tx.rows(
            "SELECT m.kind, m.key, m.customer FROM {match_keys} m JOIN (SELECT kind, key"
            " FROM {match_keys} GROUP BY kind, key HAVING COUNT(*) > 1) s"
            " ON s.kind = m.kind AND s.key = m.key"
        )
        reach = None
        if reps is not None:
            held, params = reached_by(reps) if reps else ("SELECT NULL AS customer", [])
            reach = {row["customer"] for row in tx.rows(held, params)}
        people = {
            row["ref"]: row
            for row in tx.rows(
                "SELECT ref, name, owner, source FROM {customers} WHERE erased = ?"
                " AND merged_into IS NULL",
                (False,),
            )
        }
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in shared:
        if row["customer"] in people and (reach is None or row["customer"] in reach):
            groups[(row["kind"], row["key"])].append(row["customer"])
    pairs = candidates(groups, people, db)
    opened(people, {ref for pair in pairs for ref in pair if "keys" not in people[ref]}, db)
    ranked = sorted(
        ((pair.score, a, b, pair) for (a, b), pair in pairs.items()),
        key=lambda found: (-found[0], found[1], found[2]),
    )
    found = [
        listed(a, b, pair, people)
        for score, a, b, pair in ranked
        if score >= min_score and people[a]["name"] is not None and people[b]["name"] is not None
    ]
    return {"total": len(found), "offset": offset, "data": found[offset : offset + limit]}


def candidates(
    groups: dict[tuple[str, str], list[str]], people: dict[str, dict[str, Any]], db: Database
) -> dict[tuple[str, str], Pair]:
    """Every pair of customers that shares a phone, an e-mail, or a company and a name key
    or a similar name, with its reasons. ``people`` get their names opened."""
    pairs: dict[tuple[str, str], Pair] = defaultdict(Pair)
    names: dict[str, set[str]] = defaultdict(set)
    companies: list[list[str]] = []
    for (kind, key), members in groups.items():
        if kind in ("phone", "email") and len(members) <= SHARED_AT_MOST:
            for a, b in combinations(sorted(members), 2):
                pairs[(a, b)].reasons.add(kind)
        elif kind == "name":
            for member in members:
                names[member].add(key)
        elif kind == "company":
            companies.append(sorted(members))
    opened(people, [member for members in companies for member in members], db)
    for members in companies:
        by_name: dict[str, list[str]] = defaultdict(list)
        for member in members:
            for key in names.get(member, ()):
                by_name[key].append(member)
        for same in by_name.values():
            for a, b in combinations(same, 2):
                pairs[(a, b)].reasons.add("company_name")
        for a, b in alike(members, people):
            pair = pairs[(a, b)]
            if "company_name" not in pair.reasons:
                pair.reasons.add("company_similar_name")
                pair.similar = similarity(people[a]["keys"], people[b]["keys"])
    return pairs


def opened(people: dict[str, dict[str, Any]], refs: Iterable[str], db: Database) -> None:
    """Open the names of these customers (their keys read at once), and add their keys."""
    keys = keys_of(db)
    wanted = [people[ref] for ref in set(refs)]
    if keys is not None:
        keys.preload(
            stream for row in wanted if (stream := sealed_stream(row["name"] or "")) is not None
        )
    for row in wanted:
        row["name"] = reveal(row["name"], keys)
        row["keys"] = name_keys(row["name"]) if isinstance(row["name"], str) else ()
        row["han"] = is_han(row["name"]) if isinstance(row["name"], str) else False


def alike(members: list[str], people: dict[str, dict[str, Any]]) -> set[tuple[str, str]]:
    """The pairs of one company's customers whose names are at least ``SIMILAR`` alike, one
    of them at least in Latin letters (two names in Chinese characters are alike by their
    pinyin, or not: 孙磊 and 孙立 are two people). A large company is compared within blocks
    of the same initial (of either name key)."""
    blocks: list[list[str]] = [members]
    if len(members) > BLOCK:
        by_initial: dict[str, list[str]] = defaultdict(list)
        for member in members:
            for initial in {key[0] for key in people[member]["keys"]}:
                by_initial[initial].append(member)
        blocks = list(by_initial.values())
    found: set[tuple[str, str]] = set()
    for block in blocks:
        for a, b in combinations(block, 2):
            if people[a]["han"] and people[b]["han"]:
                continue
            if similarity(people[a]["keys"], people[b]["keys"]) >= SIMILAR:
                found.add((a, b) if a < b else (b, a))
    return found


def listed(a: str, b: str, pair: Pair, people: dict[str, dict[str, Any]]) -> dict[str, Any]:
    order = [reason for reason in WHY if reason in pair.reasons]
    why = [
        f"{WHY[reason]} ({pair.similar:.0f}%)"
        if reason == "company_similar_name" and pair.similar is not None
        else WHY[reason]
        for reason in order
    ]
    return {
        "customer": a,
        "name": people[a]["name"],
        "owner": people[a]["owner"],
        "source": people[a]["source"],
        "other": b,
        "other_name": people[b]["name"],
        "other_owner": people[b]["owner"],
        "other_source": people[b]["source"],
        "score": round(pair.score, 3),
        "reasons": order,
        "why": ", ".join(why),
    }
