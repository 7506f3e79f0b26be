"""WhatsApp over Twilio: entry (plug-in), numbers, webhook (+ form, signature, inlet), send, media, client, doctor."""
