"""`disca ask`: one answer per dilemma (`inputs` parses, `run` answers, `result` records)."""
