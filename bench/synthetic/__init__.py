"""Synthetic sets: built once by a generator from the train role, content-addressed on disk, with sample grids
and fidelity."""
