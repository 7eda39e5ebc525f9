"""An event-sourced ledger of customer interactions."""
