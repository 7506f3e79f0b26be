"""homeclaw's device side: models, registry, drivers, declarative adapters and the simulated home."""
