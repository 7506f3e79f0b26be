"""The local intent tier: hassil matching, pure planning, vocabulary, relative requests, sentences."""
