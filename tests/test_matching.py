"""Values as compared: two spellings of one person's phone, e-mail, name or company share a
key; what is shown stays as it was typed."""

from __future__ import annotations

import pytest

from ledger.matching import company_key, name_keys, normal_email, normal_phone, similarity

pytestmark = pytest.mark.fast


def wide(text: str) -> str:
    """The text as typed in full width on a Chinese keyboard."""
    return "".join(
        chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text
    )


@pytest.mark.parametrize(
    "typed",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "0086 13800138000",
        wide("13800138000"),
        wide("+86 138-0013-8000"),
    ],
)
def test_a_mobile_number_typed_any_way_is_one_e164_number(typed: str) -> None:
    assert normal_phone(typed) == "+8613800138000"


def test_a_landline_without_country_code_is_read_in_china_and_others_keep_theirs() -> None:
    assert normal_phone("(021) 5555-0101") == normal_phone("+86 21 5555 0101") == "+862155550101"
    assert normal_phone("+49 40 123456") == "+4940123456"
    assert normal_phone("12") is None


def test_an_email_differs_by_case_spaces_and_width_only_as_typed() -> None:
    assert normal_email(" Zhang.Wei@Example.COM ") == "zhang.wei@example.com"
    assert normal_email(wide("zhang@example.com")) == "zhang@example.com"


def test_a_chinese_name_and_its_pinyin_in_either_order_share_a_key() -> None:
    keys = set(name_keys("张伟"))
    for spelling in ("Zhang Wei", "ZHANG  wei", "Wei Zhang", "zhangwei", "张 伟"):
        assert keys & set(name_keys(spelling)), spelling
    assert set(name_keys("欧阳修")) & set(name_keys("Ouyang Xiu"))
    assert set(name_keys("曾国藩")) & set(name_keys("Zeng Guofan"))  # read as a surname
    assert set(name_keys("吕芳")) & set(name_keys("Lü Fang"))
    assert set(name_keys("覃帅琪")) & set(name_keys("Tan Shuaiqi"))  # read either way
    assert set(name_keys("覃帅琪")) & set(name_keys("Qin Shuaiqi"))
    assert set(name_keys("吕霞")) & set(name_keys("Xia Lyu"))
    assert not set(name_keys("吕霞")) & set(name_keys("Lu Xia"))  # 陆霞, another surname
    assert not set(name_keys("张伟")) & set(name_keys("张薇薇"))
    assert not set(name_keys("彭远")) & set(name_keys("袁鹏"))  # characters say the order


def test_a_company_is_known_without_its_legal_form_and_in_pinyin() -> None:
    assert company_key("上海华通电子有限公司") == company_key("上海华通电子")
    assert company_key("ACME Co., Ltd.") == company_key(wide("Acme") + " Inc") == "acme"
    assert company_key("华为") == company_key("Huawei") == "huawei"
    assert company_key("") is None


def test_similar_names_score_high_and_different_ones_low() -> None:
    assert similarity(name_keys("张伟"), name_keys("Zhang Wie")) > 85
    assert similarity(name_keys("Wei Zhang"), name_keys("张伟")) == 100
    assert similarity(name_keys("李伟"), name_keys("李娜")) < 60
