"""Where protobuf meets the use cases: the gRPC servicer and the JetStream consumer."""
