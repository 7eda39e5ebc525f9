"""Compliance verifies the record and takes digests over HTTP."""

from __future__ import annotations

from tests.api.conftest import Api, fresh_customer, problem


def test_compliance_verifies_the_record_and_checks_a_digest(api: Api) -> None:
    ref = fresh_customer(api)
    with api.as_("compliance") as compliance:
        whole = compliance.get("/integrity/verify")
        assert whole.status_code == 200, whole.text
        assert whole.json()["ok"] and whole.json()["problems"] == []
        one = compliance.get("/integrity/verify", params={"customer": ref}).json()
        assert (one["ok"], one["events"]) == (True, 1)
        digest = compliance.get("/integrity/digest").json()
        assert digest["ok"] and digest["digest"].startswith(f"ldg1:{digest['position']}:")
        checked = compliance.get("/integrity/verify", params={"against": digest["digest"]})
        assert checked.json()["digest_matches"] is True
        bad = problem(compliance.get("/integrity/verify", params={"against": "ldg1:x"}), 422)
        assert "is not a digest this ledger printed" in bad["detail"]
        problem(compliance.get("/integrity/verify", params={"customer": "CUST-NOBODY"}), 404)
    with api.as_("analyst") as analyst:
        problem(analyst.get("/integrity/digest"), 403)
