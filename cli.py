"""Run the disca CLI from a source checkout: `python cli.py --help`."""

from disca_edge.cli import main

if __name__ == "__main__":
    main()
