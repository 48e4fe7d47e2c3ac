from cribside.cli import main

raise SystemExit(main())
