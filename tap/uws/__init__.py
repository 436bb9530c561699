"""UWS 1.1 asynchronous jobs of the TAP service (``/tap/async``)."""
