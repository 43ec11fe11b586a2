"""HTTP API adapters: the CDS Hooks service (`cds_hooks`). Each is a Flask Blueprint built from
the Settings and the loaded references; the views translate requests and call the services."""
