"""`python -m disca_edge` and the `disca` console script: Ctrl-C exits 130 from the start.

The import of the command line (click, every command module) is inside the guard, so an
interrupt in the first instants is one line and exit 130, not a traceback.
"""

import sys


def main() -> None:
    """Import the CLI under a Ctrl-C guard, then run it."""
    try:
        from .cli import main as run
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        sys.exit(130)
    run()


if __name__ == "__main__":
    main()
