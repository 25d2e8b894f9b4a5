"""Everything that renders a result for a person."""
