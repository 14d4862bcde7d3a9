"""``python -m gradlab`` runs the command line."""

from gradlab.cli import main

if __name__ == "__main__":
    main()
