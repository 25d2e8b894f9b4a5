"""`disca ask`: one answer per dilemma."""
