"""Simulated hardware, broker start-up and scenario tools for running the gate on a host."""
