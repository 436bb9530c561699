"""The provdb TAP/ProvSAP web service (Flask); built on top of the ``provdb`` package."""
