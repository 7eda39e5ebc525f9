"""The ledger command line (entry point: ledger.cli.main:main)."""
