"""`python -m kafkalab`: the same as the `kafkalab` command."""

from kafkalab.app.cli import main

raise SystemExit(main())
