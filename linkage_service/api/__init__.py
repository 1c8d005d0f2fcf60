"""HTTP API of the linkage service (all routes under ``/api/v1``)."""
