"""`python -m claw.cli`: the same as the `claw` command."""

from claw.cli import main

main()
