from hostpulse.cli import main

raise SystemExit(main())
