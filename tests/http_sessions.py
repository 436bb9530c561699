"""An HTTP session for the pyvo tests that closes what pyvo leaves open."""

from __future__ import annotations

from typing import Any

import requests


class ClosingSession(requests.Session):
    """A :class:`requests.Session` that, when closed, closes every response it returned.

    pyvo (1.10) reads a result from ``response.raw`` of a ``stream=True`` request
    (``DALQuery.execute_stream``) and never closes the response. When its VOTable parser
    stops at the closing tag before urllib3 has seen the end of the body, the connection
    is not given back to the pool, so ``Session.close()``, which closes the pool, leaves
    its socket open. ``stream_decode_content`` also sets ``raw.read`` to a partial of
    ``raw.read``, a reference cycle: the socket is closed only when the garbage
    collector runs, with a ``ResourceWarning`` in whatever test is running at that time.
    This session keeps each response and closes them all when it is closed, so the
    sockets are closed by the module that opened them. Use it as a context manager.
    """

    def __init__(self) -> None:
        super().__init__()
        # strong references on purpose: a response must stay alive until we close it
        self._responses: list[requests.Response] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Send as :class:`requests.Session` does, and keep the response to close later."""
        response = super().send(request, **kwargs)
        self._responses.append(response)
        return response

    def close(self) -> None:
        """Close every response this session returned (with its socket), then the pool."""
        while self._responses:
            self._responses.pop().close()
        super().close()
