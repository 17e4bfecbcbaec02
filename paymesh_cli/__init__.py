"""The `paymesh` operator CLI."""

import os

# The CLI forks children (servers, services) while gRPC probes have threads running. gRPC's
# fork handlers are of no use to children that exec at once, and each fork printed a warning;
# this must be set before gRPC is first imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
