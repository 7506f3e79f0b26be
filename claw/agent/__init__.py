"""The agent: durable loop, turn router, confirmations, actuator and policy, LLM tier and its tools."""
