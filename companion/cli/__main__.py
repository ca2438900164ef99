"""``python -m companion.cli``: the ``crumbs`` command."""
from . import main

main()
