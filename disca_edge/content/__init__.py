"""What goes into prompts and what results are compared with."""
