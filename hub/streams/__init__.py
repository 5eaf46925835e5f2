"""The stream engine: packets first, pixels only when they matter (tiers T0 to T3)."""
