"""Predictions of a classifier and the metrics computed from them (macro F1, mAP, thresholds, gaps)."""
