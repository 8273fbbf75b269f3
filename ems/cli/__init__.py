"""The ``ems`` command line."""
