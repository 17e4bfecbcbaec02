"""`python -m wallet_svc`: run the wallet service until SIGTERM."""

from wallet_svc.bootstrap import main

raise SystemExit(main())
