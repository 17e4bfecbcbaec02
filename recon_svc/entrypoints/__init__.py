"""recon_svc's entrypoints and its clients of other services' contracts."""
