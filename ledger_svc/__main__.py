"""`python -m ledger_svc`: run the ledger service until SIGTERM."""

from ledger_svc.bootstrap import main

raise SystemExit(main())
