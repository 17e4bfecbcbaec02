"""What the marketplace is told, and the rules of telling it: event types, endpoint URLs, the
retry schedule, when an endpoint is disabled. No I/O here."""
