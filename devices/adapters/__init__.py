"""Declarative HTTP adapters: the spec format (spec.py) and the specs shipped with homeclaw (*.yaml)."""
