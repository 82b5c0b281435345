"""Fast placement heuristics and the latency-blind baselines; all pure Python, no solver."""
