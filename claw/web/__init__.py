"""The FastAPI app: web chat, JSON API and (later) the Twilio webhooks and dashboard."""
