"""The local intent tier: hassil matching, the sentences (data), pure planning, follow-ups, vocabulary, relative."""
