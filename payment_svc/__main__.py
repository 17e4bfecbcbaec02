from payment_svc.bootstrap import main

raise SystemExit(main())
