"""Where protobuf meets the use cases: the gRPC servicer, the executor consumer, the wallet
client."""
