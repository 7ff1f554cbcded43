"""Subscriber activation: offerings, quotes, the service order orchestrator, inventory, billing."""
