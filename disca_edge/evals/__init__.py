"""MultiTP runs: the loop, executors, the run log, results, rescoring."""
