"""Entry script of the frozen app: the same ``console`` as the ``workbench`` console script."""

import multiprocessing

from workbench.cli.main import console

if __name__ == "__main__":
    # helper child processes (memray reader, workers) re-enter here in a frozen build
    multiprocessing.freeze_support()
    console()
