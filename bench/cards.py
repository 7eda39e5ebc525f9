"""A generated stack of business cards, as a sales team types them into a spreadsheet, with
duplicates planted in it: the same person again, typed another way.

    rows, people = card_stack(customers=5_000, duplicates=300)

``rows`` are dicts of the Chinese headers an office would use (姓名, 公司, 职位, 手机, 邮箱, 地址,
负责人, 来源); ``people[i]`` is who row ``i`` is, so that two rows are one customer exactly when
their people are equal. A planted duplicate keeps at least one thing a person would match it
by, typed otherwise: its phone (in another format, or in full-width digits), its e-mail (in
other case, with spaces), or its company with its name (in pinyin or Chinese characters,
spaced, upper case, or one letter mistyped in a long name). The tests (5,000 cards) and the
benchmark (100,000) use it.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

from pypinyin import lazy_pinyin

HEADER = ["姓名", "公司", "职位", "手机", "邮箱", "地址", "负责人", "来源"]
SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武"
)
GIVEN = list(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕彬鹏辉斌宇浩凯健俊帆帅旭宁"
    "博文昊天佳琪欣怡梓涵子轩雨泽思远晨曦嘉怡一诺若汐语桐可馨紫萱梦瑶雅静浩然志强建国海燕晓峰"
    "春梅秋菊冬雪立新永刚德明振华国强家豪俊杰子豪宏伟丹丹婷婷莉莉慧敏"
)
FIRST = (
    "James John Robert Michael William David Richard Joseph Thomas Charles Christopher Daniel "
    "Matthew Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Timothy "
    "Ronald Edward Jason Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin "
    "Scott Brandon Benjamin Samuel Gregory Alexander Frank Patrick Raymond Jack Dennis Jerry "
    "Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty "
    "Margaret Sandra Ashley Kimberly Emily Donna Michelle Carol Amanda Dorothy Melissa Deborah "
    "Stephanie Rebecca Sharon Laura Cynthia Kathleen Amy Angela Shirley Anna Brenda Pamela Emma "
    "Nicole Helen Samantha Katherine Christine Debra Rachel Carolyn Janet Catherine Maria Heather"
).split()
LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips "
    "Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers "
    "Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson "
    "Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo "
    "Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell"
).split()
CITIES = list("上海 北京 深圳 广州 杭州 南京 苏州 成都 武汉 天津 宁波 青岛 厦门 西安 重庆".split())
TRADES = list(
    "华通 恒达 鑫源 宏图 博远 瑞丰 中科 天成 海纳 金桥 东方 嘉禾 汇丰 远航 新星 长城 "
    "凯旋 联创 万达 星辰 锦程 荣盛 同创 卓越 宇通 安泰 隆基 华夏 盛世 永安 国泰 信达 "
    "明辉 富强 德润 智达".split()
)
LINES = list(
    "电子 科技 贸易 机械 化工 物流 医疗器械 食品 纺织 软件 建材 光电 汽车配件 环保".split()
)
LATIN_COMPANIES = (
    "Acme Apex Summit Pioneer Horizon Vertex Atlas Orion Beacon Keystone Meridian Sterling "
    "Evergreen Northwind Bluewater Silverline Redwood Ironbridge Goldcrest Brightpath"
).split()
TITLES = [
    "经理",
    "采购经理",
    "销售总监",
    "总经理",
    "工程师",
    "采购专员",
    "技术总监",
    "Buyer",
    "CEO",
]
REPS = [f"REP-{n}" for n in range(1, 6)]


def card_stack(
    customers: int, duplicates: int, *, seed: int = 11, source: str = "trade show 2025"
) -> tuple[list[dict[str, str]], list[int]]:
    """``customers`` cards of different people, then ``duplicates`` more, each another typing
    of one of them, shuffled; and who each row is."""
    rng = random.Random(seed)
    companies = company_names(rng, max(10, customers // 12))
    phones: set[str] = set()
    emails: set[str] = set()
    rows: list[dict[str, str]] = []
    for _ in range(customers):
        rows.append(person(rng, companies, phones, emails, source))
    people = list(range(customers))
    for _ in range(duplicates):
        original = rng.randrange(customers)
        copy = retyped(rng, rows[original], phones, emails)
        rows.append(copy)
        people.append(original)
    order = list(range(len(rows)))
    rng.shuffle(order)
    return [rows[i] for i in order], [people[i] for i in order]


def company_names(rng: random.Random, count: int) -> list[str]:
    found: set[str] = set()
    while len(found) < count:
        if rng.random() < 0.8:
            found.add(
                f"{rng.choice(CITIES)}{rng.choice(TRADES)}{rng.choice(LINES)}"
                f"{rng.choice(['有限公司', '股份有限公司', '有限公司', '集团'])}"
            )
        else:
            found.add(
                f"{rng.choice(LATIN_COMPANIES)} {rng.choice(['Trading', 'Industries', 'Tech'])}"
                f" {rng.choice(['Co., Ltd.', 'Inc.', 'Ltd.', 'GmbH'])}"
            )
    return sorted(found)


def person(
    rng: random.Random, companies: list[str], phones: set[str], emails: set[str], source: str
) -> dict[str, str]:
    chinese = rng.random() < 0.7
    if chinese:
        given = "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2, 2])))
        name = rng.choice(SURNAMES) + given
        local = "".join(lazy_pinyin(name))
    else:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = f"{first} {last}"
        local = f"{first}.{last}".lower()
    while True:
        phone = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
        if phone not in phones:
            phones.add(phone)
            break
    while True:
        email = f"{local}{rng.randrange(1000)}@{rng.choice(['qq.com', '163.com', 'example.cn'])}"
        if email not in emails:
            emails.add(email)
            break
    return {
        "姓名": name,
        "公司": rng.choice(companies),
        "职位": rng.choice(TITLES),
        "手机": phone_typed(rng, phone),
        "邮箱": email,
        "地址": f"{rng.choice(CITIES)}市{rng.randrange(1, 999)}号",
        "负责人": rng.choice(REPS),
        "来源": source,
    }


def phone_typed(rng: random.Random, digits: str) -> str:
    a, b, c = digits[:3], digits[3:7], digits[7:]
    return rng.choice([digits, f"{a} {b} {c}", f"{a}-{b}-{c}", f"+86 {a} {b} {c}"])


def retyped(
    rng: random.Random, row: dict[str, str], phones: set[str], emails: set[str]
) -> dict[str, str]:
    """The person of ``row`` on another card: one thing to match by kept (typed otherwise),
    the others new or left out, as another department would have entered them."""
    copy = dict(row, 负责人=rng.choice(REPS), 来源="CRM export")
    kept = rng.choices(["phone", "email", "name"], weights=[3, 2, 5])[0]
    if kept != "phone":
        copy["手机"] = rng.choice(["", other_phone(rng, phones)])
    if kept != "email":
        copy["邮箱"] = rng.choice(["", f"x{rng.randrange(10**6)}@other.example"])
    if kept == "phone":
        digits = "".join(ch for ch in row["手机"] if ch.isdigit())[-11:]
        copy["手机"] = rng.choice([wide(digits), phone_typed(rng, digits), "0086 " + digits])
        copy["公司"] = rng.choice(["", row["公司"]])
        copy["姓名"] = renamed(rng, row["姓名"])
    elif kept == "email":
        copy["邮箱"] = rng.choice([row["邮箱"].upper(), f" {row['邮箱'].title()} "])
        copy["姓名"] = renamed(rng, row["姓名"])
    else:
        copy["姓名"] = renamed(rng, row["姓名"], must=True)
        copy["公司"] = restyled(rng, row["公司"])
    return copy


def other_phone(rng: random.Random, phones: set[str]) -> str:
    while True:
        phone = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
        if phone not in phones:
            phones.add(phone)
            return phone


def renamed(rng: random.Random, name: str, *, must: bool = False) -> str:
    """The name typed another way: a Chinese name in pinyin or spaced; a Latin one in other
    case, the other order, or (a long one) with a letter mistyped."""
    if not must and rng.random() < 0.4:
        return name
    if not name.isascii():
        syllables = lazy_pinyin(name)
        surname, given = syllables[0].title(), "".join(syllables[1:])
        return rng.choice(
            [
                f"{surname} {given.title()}",
                f"{given.title()} {surname}",
                f"{surname.upper()} {given}",
                " ".join(name),
            ]
        )
    first, last = name.split(" ", 1)
    choices = [f"{last} {first}", name.upper(), f"{first}  {last.lower()}"]
    if len(first + last) >= 10:
        at = rng.randrange(1, len(last))
        choices.append(f"{first} {last[:at]}{rng.choice('aeiou')}{last[at + 1 :]}")
    return rng.choice(choices)


def restyled(rng: random.Random, company: str) -> str:
    """The company as another department wrote it: without its legal form, or in full width."""
    for suffix in ("股份有限公司", "有限公司", "集团", " Co., Ltd.", " Inc.", " Ltd.", " GmbH"):
        if company.endswith(suffix):
            bare = company[: -len(suffix)]
            return rng.choice([bare, wide(bare), f"{bare}公司" if not bare.isascii() else bare])
    return company


def wide(text: str) -> str:
    """The text as typed in full width on a Chinese keyboard."""
    return "".join(
        chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text
    )


def write_cards(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)


def planted_pairs(people: list[int], refs: list[str]) -> set[tuple[str, str]]:
    """The pairs of customers (by reference) that are one person."""
    by_person: dict[int, set[str]] = {}
    for who, ref in zip(people, refs, strict=True):
        by_person.setdefault(who, set()).add(ref)
    return {(a, b) for found in by_person.values() for a in found for b in found if a < b}


def scored(found: list[dict[str, Any]], people: list[int], refs: list[str]) -> tuple[int, int]:
    """How many planted duplicates the pairs ``found`` tell (a person's k records joined by
    pairs into one are k - 1 found), and how many pairs join two people. ``refs``: each
    row's customer."""
    person = dict(zip(refs, people, strict=True))
    parent = {ref: ref for ref in refs}

    def root(ref: str) -> str:
        while parent[ref] != ref:
            parent[ref] = parent[parent[ref]]
            ref = parent[ref]
        return ref

    false = 0
    for pair in found:
        a, b = pair["customer"], pair["other"]
        if person[a] != person[b]:
            false += 1
        else:
            parent[root(a)] = root(b)
    joined = len(set(refs)) - len({root(ref) for ref in set(refs)})
    return joined, false
