"""Read models kept from the event log: one module per view, and the runner that keeps them
current. Every view is a pure function of the events, used alike for live views, rebuilds
and historical replays."""
