"""Support code for the peer benchmark harness (benches/peers/harness.py)."""
