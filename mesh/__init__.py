"""What every paymesh service shares: settings, database, outbox/inbox, JetStream,
gRPC bootstrap and interceptors, error mapping, validation, money."""
