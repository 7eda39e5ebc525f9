"""One example of each command, as the OpenAPI document shows it (and as `ledger import`
takes it). Path fields are dropped per endpoint."""

from __future__ import annotations

from typing import Any

C = {"customer": "CUST-00042"}
WHEN = "2025-06-10T15:20:00+08:00"

EXAMPLES: dict[str, dict[str, Any]] = {
    "register_customer": {"ref": "CUST-00042", "name": "王伟", "kind": "person",
                          "email": "wang.wei@example.cn", "owner": "REP-7"},
    "update_profile": {**C, "phone": "+86 10 6552 9988"},
    "assign_owner": {**C, "rep": "REP-9", "reason": "REP-7 departed"},
    "log_contact": {**C, "rep": "REP-7", "channel": "phone", "direction": "out",
                    "subject": "报价跟进", "occurred_at": WHEN},
    "receive_request": {**C, "kind": "quote", "channel": "email",
                        "respond_by": "2025-06-12T18:00:00+08:00", "rep": "REP-7"},
    "answer_request": {**C, "request_id": "R-118", "rep": "REP-7", "channel": "email"},
    "issue_quote": {**C, "rep": "REP-7", "product": "普洱茶 357g", "quantity": "10",
                    "unit_price": "128.00", "currency": "CNY", "discount": "0.05",
                    "valid_until": "2025-07-01T00:00:00+08:00", "quote_id": "Q-2025-0193"},
    "accept_quote": {**C, "quote_id": "Q-2025-0193", "note": "signed PO 7781"},
    "decline_quote": {**C, "quote_id": "Q-2025-0193", "reason": "price"},
    "expire_quote": {**C, "quote_id": "Q-2025-0193"},
    "withdraw_quote": {**C, "quote_id": "Q-2025-0193", "reason": "wrong product"},
    "make_promise": {**C, "rep": "REP-7", "text": "寄样品 by courier", "category": "delivery",
                     "due_by": "2025-06-20T00:00:00+08:00", "quote_id": "Q-2025-0193"},
    "keep_promise": {**C, "promise_id": "P-311", "note": "SF Express 9912"},
    "break_promise": {**C, "promise_id": "P-311", "reason": "stock ran out"},
    "cancel_promise": {**C, "promise_id": "P-311", "reason": "customer no longer wants it"},
    "mark_promise_overdue": {**C, "promise_id": "P-311"},
    "touch_campaign": {**C, "campaign": "CMP-2025-EXPO"},
    "change_consent": {**C, "channel": "sms", "purpose": "marketing", "granted": False},
    "file_complaint": {**C, "category": "delivery", "severity": "high",
                       "description": "arrived damaged", "rep": "REP-7",
                       "respond_by": "2025-06-11T18:00:00+08:00"},
    "escalate_complaint": {**C, "complaint_id": "K-77", "to": "REP-2", "reason": "refund"},
    "resolve_complaint": {**C, "complaint_id": "K-77", "resolution": "replaced",
                          "satisfied": True},
    "reopen_complaint": {**C, "complaint_id": "K-77", "reason": "replacement damaged too"},
    "record_satisfaction": {**C, "items": {"quality": "satisfied", "delivery": "neutral"},
                            "product": "普洱茶 357g"},
    "record_purchase": {**C, "order_id": "SO-5521", "amount": "1216.00", "currency": "CNY",
                        "rep": "REP-7", "quote_id": "Q-2025-0193"},
    "record_churn": {**C, "defection_type": "price", "competitor": "TeaCo"},
    "record_win_back": {**C, "rep": "REP-7", "reason": "loyalty offer"},
    "correct_entry": {**C, "entry_id": "SO-5521", "fields": {"amount": "1261.00"},
                      "reason": "digits swapped"},
    "retract_entry": {**C, "entry_id": "SO-5521", "reason": "recorded twice"},
    "hire_rep": {"ref": "REP-9", "name": "李娜", "team": "east", "manager": "REP-2"},
    "move_rep": {"rep": "REP-9", "team": "north", "manager": "REP-3"},
    "depart_rep": {"rep": "REP-7", "reason": "resigned"},
    "launch_campaign": {"ref": "CMP-2025-EXPO", "name": "Tea expo", "channel": "email",
                        "budget": "20000.00", "currency": "CNY",
                        "starts_at": "2025-06-01T00:00:00+08:00",
                        "ends_at": "2025-06-30T00:00:00+08:00", "material": "brochure-2025",
                        "department": "marketing"},
    "record_campaign_cost": {"campaign": "CMP-2025-EXPO", "amount": "3500.00",
                             "currency": "CNY", "note": "booth"},
    "close_campaign": {"campaign": "CMP-2025-EXPO"},
}
