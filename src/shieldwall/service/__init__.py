"""The service layer: the only place that wires targets, analyzers, merger, matchers and reporters."""
