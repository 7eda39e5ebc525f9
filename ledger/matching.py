"""Values as compared, never as shown: what tells that two records are one customer.

A name, phone, e-mail or company is kept as it was typed; for matching it is normalised here:
full-width forms to half-width and runs of spaces to one (Unicode NFKC), case folded, a phone
number to E.164 (``+8613800138000``; a number without a country code is read in
``DEFAULT_REGION``), a Chinese name to its pinyin without tones, so that 张伟, "Zhang Wei",
"ZHANG wei" and "Wei Zhang" share a key. Views keep only keyed hashes of these keys
(``ledger/projections/dossier.py``); a search opens names in memory to score the similarity of
two names of one company (``similarity``).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import phonenumbers
from rapidfuzz import fuzz

DEFAULT_REGION = "CN"
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# A name's parts: a run of letters (Latin, accented), or one Chinese character.
PARTS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W\d_]+")
# A company's parts: its words, numbers and Chinese characters.
TOKENS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W\d_]+|\d+")
# Surnames read otherwise than the character's commonest reading (some, either way).
SURNAMES = {
    "曾": ("zeng",),
    "单": ("shan",),
    "区": ("ou",),
    "仇": ("qiu",),
    "解": ("xie",),
    "查": ("zha",),
    "朴": ("piao",),
    "乐": ("yue", "le"),
    "覃": ("qin", "tan"),
    "盖": ("ge", "gai"),
    "尉": ("yu", "wei"),
    "员": ("yun", "yuan"),
    "种": ("chong",),
    "秘": ("bi",),
    "缪": ("miao",),
    "翟": ("zhai", "di"),
    "召": ("shao",),
    "黑": ("he", "hei"),
    "重": ("chong",),
    "藏": ("zang",),
    "折": ("she",),
}
# ü as Latin letters write it: 吕 is Lü, Lv or Lyu (and Lu is another surname, 陆).
UMLAUT = {"lü": "lv", "lyu": "lv", "nü": "nv", "nyu": "nv"}
# Words that say what kind of company, not which: left out of the company's key.
COMPANY_SUFFIXES = re.compile(
    "(股份有限公司|有限责任公司|有限公司|集团公司|集团|公司|分公司|工作室|事务所)$"
)
COMPANY_WORDS = frozenset(
    "co company corp corporation inc incorporated ltd limited llc plc gmbh ag sa srl bv"
    " group holdings the".split()
)


def half_width(text: str) -> str:
    """Full-width letters, digits and signs as their ASCII forms; the ideographic space as
    a space (NFKC)."""
    return unicodedata.normalize("NFKC", text)


def plain(text: str) -> str:
    """Half-width, case folded, spaces trimmed and runs of them made one."""
    return " ".join(half_width(text).casefold().split())


def normal_email(text: str | None) -> str | None:
    if not text:
        return None
    found = "".join(half_width(text).split()).casefold()
    return found or None


def normal_phone(text: str | None, region: str = DEFAULT_REGION) -> str | None:
    """The number in E.164 (``+8613800138000``), read in ``region`` if it has no country
    code; a number the numbering plan does not know keeps its digits alone (so two records
    that typed it alike still match), and fewer than five digits are no phone."""
    if not text:
        return None
    typed = half_width(text)
    try:
        number = phonenumbers.parse(typed, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    digits = "".join(ch for ch in typed if ch.isdigit())
    return digits if len(digits) >= 5 else None


@lru_cache(maxsize=65_536)
def syllable(char: str) -> str:
    """A Chinese character's pinyin, without tones (ü as v: 吕 is "lv")."""
    from pypinyin import lazy_pinyin  # its dictionaries load in ~0.2 s: not at every start

    return lazy_pinyin(char)[0]


def strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def is_han(name: str | None) -> bool:
    """Whether the name is written in Chinese characters."""
    return bool(name) and HAN.match(plain(name or "").replace(" ", "")) is not None


def name_parts(name: str) -> list[tuple[str, ...]]:
    """The name's parts in lower-case Latin letters: its words, or each Chinese character's
    pinyin (a surname by its readings as a surname)."""
    parts: list[tuple[str, ...]] = []
    for found in PARTS.finditer(plain(name)):
        part = found.group()
        if HAN.fullmatch(part):
            readings = None if parts else SURNAMES.get(part)
            parts.append(readings or (syllable(part),))
        else:
            latin = strip_marks(part.replace("ü", "v"))
            parts.append((UMLAUT.get(part, latin),))
    return [part for part in parts if part[0]]


@lru_cache(maxsize=131_072)
def name_keys(name: str | None) -> tuple[str, ...]:
    """Keys two spellings of one person's name share. A name in Chinese characters: its
    pinyin, family name first (张伟: "zhangwei"; a surname of two readings gives two keys);
    in Latin letters, whose order varies: its words in order and with the last one first
    ("Wei Zhang": "weizhang" and "zhangwei"). So 张伟 and "Wei Zhang" share a key, and 彭远
    and 袁鹏 do not. Empty for a name without letters."""
    if not name:
        return ()
    parts = name_parts(name)
    if not parts:
        return ()
    given = "".join(part[0] for part in parts[1:])
    if is_han(name):
        return tuple(dict.fromkeys(reading + given for reading in parts[0]))
    words = [part[0] for part in parts]
    first, turned = "".join(words), "".join(words[-1:] + words[:-1])
    return (first,) if first == turned else (first, turned)


def company_key(company: str | None) -> str | None:
    """What two spellings of one company share: without its legal form (有限公司, Co., Ltd.),
    case, spaces and signs, Chinese in pinyin (华为 and "Huawei" are one)."""
    if not company:
        return None
    text = plain(company)
    for _ in range(2):  # 集团有限公司: two legal words
        text = COMPANY_SUFFIXES.sub("", text).rstrip() or text
    parts = [
        syllable(part) if HAN.fullmatch(part) else strip_marks(part)
        for part in TOKENS.findall(text)
    ]
    kept = [part for part in parts if part not in COMPANY_WORDS] or parts
    return "".join(kept) or None


def similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """How alike two names are, from 0 to 100, by their keys (``name_keys``): the best
    match of any key of one with any of the other."""
    if not a or not b:
        return 0.0
    return max(fuzz.ratio(one, other) for one in a for other in b)


def match_keys(field: str, text: str) -> set[str]:
    """The keys a profile field's value is matched by: one for a phone, e-mail or company,
    the name's keys for a name (``name_keys``); none for a value that has none."""
    if field == "name":
        return set(name_keys(text))
    found = {"phone": normal_phone, "email": normal_email, "company": company_key}[field](text)
    return {found} if found else set()
