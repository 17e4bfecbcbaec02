"""`python -m notify_svc`: run the notify service until SIGTERM."""

from notify_svc.bootstrap import main

raise SystemExit(main())
