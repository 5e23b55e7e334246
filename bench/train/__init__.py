"""The one training loop (any classifier x any strategy), its losses, schedules, augmentation, synthetic pairing
and torchrun."""
