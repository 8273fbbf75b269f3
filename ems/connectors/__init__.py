"""Live field connectors (MQTT, OPC UA, Modbus TCP) and store-and-forward into the readings store.

``ems ingest serve --config FILE`` runs the connectors of one site file; every reading passes a
durable on-disk buffer and then :func:`ems.ingest.live.ingest_live`, the historian import's path.
"""
