"""The Pulumi program: `pulumi up -s <stack>` runs this, and so does `mlkit plan`."""

from mlkit.program import main

main()
