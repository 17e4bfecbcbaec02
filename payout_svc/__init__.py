"""Pay-outs to sellers. Only the contract exists so far (protos/paymesh/payout/v1);
the service is built in its own issue."""
