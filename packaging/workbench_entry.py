"""Entry script of the frozen app: the same ``main`` as the ``workbench`` console script."""

import multiprocessing
import sys

from workbench.cli.main import main

if __name__ == "__main__":
    # helper child processes (memray reader, workers) re-enter here in a frozen build
    multiprocessing.freeze_support()
    sys.exit(main())
