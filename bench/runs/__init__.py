"""A run from config to record (`execute`), its environment record, and sweeps of many runs with their launchers."""
