"""homeclaw's agent side: config, agent loop, channels, soul, LLM, tools, web and CLI."""

__version__ = "0.1.0"
