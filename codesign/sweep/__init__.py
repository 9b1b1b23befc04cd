"""`codesign sweep`: vary spec keys, retrain, rebuild, and compare TPR against resources and latency (Pareto fronts)."""
