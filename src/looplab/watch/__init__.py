"""Everything that hangs on the loop's events: progress, the history file, monitors, diagnoses,
the divergence guard, checkpoints (and the signals that ask for one), TensorBoard and the
weights' path. It depends on :mod:`looplab.loop` only."""
