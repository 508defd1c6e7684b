"""Stage C: dual-layer verification of dialogs (deterministic rule checks, then model judges)."""
