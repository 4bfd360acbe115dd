"""A whole run from a Config: building the loop's inputs by name (device, threads, seeds,
engine, optimizer, schedule), the one-call ``fit``, resume and rollback, run directories and
their status, saved models and predictions."""
