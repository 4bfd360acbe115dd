"""``python -m looplab``: the ``looplab`` command, as ``torchrun -m looplab train ...`` starts it."""

from looplab.cli import main

if __name__ == "__main__":
    main()
