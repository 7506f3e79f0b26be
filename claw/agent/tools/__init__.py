"""Tools the model can call: typed functions with a risk level (see `schema`)."""

from claw.agent.tools.schema import MAX_RESULT_CHARS, RISKS, Risk, Tool, call_tool, make_tool, tool

__all__ = ["MAX_RESULT_CHARS", "RISKS", "Risk", "Tool", "call_tool", "make_tool", "tool"]
