"""Ingestion: historian/SCADA exports and other sources -> parsed readings -> validated, normalised,
stored readings; rejects go to quarantine.

Parsing (``historian``, ``mapping``) is pure reading; validation, unit normalisation and storage are
the pipeline's job.
"""
