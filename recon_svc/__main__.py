"""`python -m recon_svc`: run the reconciliation service until SIGTERM."""

from recon_svc.bootstrap import main

raise SystemExit(main())
