"""The ``carerules`` command line."""
