"""``python -m looplab``: the ``looplab`` command (``torchrun -m looplab train ...`` runs it)."""

from looplab.cli import main

if __name__ == "__main__":
    main()
