"""The Pulumi program: `pulumi up -s <stack>` runs this, and so does `python -m blueprints plan`."""

from blueprints.program import main

main()
