"""Real servers on 127.0.0.1 for the publisher tests, and tools to make them misbehave."""
