"""The API benchmark and its load generator: in a checkout only (setup.py leaves them out of the wheel)."""
