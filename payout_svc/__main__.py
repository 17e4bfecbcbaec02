"""`python -m payout_svc`: run the payout service until SIGTERM."""

from payout_svc.bootstrap import main

raise SystemExit(main())
