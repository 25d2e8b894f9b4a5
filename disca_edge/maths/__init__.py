"""Pure NumPy: the DISCA core, every method from one set of logits, metrics, categories."""
