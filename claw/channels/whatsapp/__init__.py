"""WhatsApp over Twilio: webhook, send, client, numbers, doctor."""
