"""The aggregates: Customer, Rep and Campaign, each with its events and rules."""

from ledger.aggregates.campaign import Campaign
from ledger.aggregates.customer import Customer
from ledger.aggregates.rep import Rep

__all__ = ["Campaign", "Customer", "Rep"]
