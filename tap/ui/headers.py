"""Security headers of every UI response.

The UI has no inline script (its one script is ``static/ui.js``), so the policy allows
scripts from the service itself only. Inline styles stay allowed: the SVG plots and
graphs carry ``<style>`` elements and style attributes, and a style cannot run code.
``frame-ancestors 'none'`` (and ``X-Frame-Options`` for older browsers) stops other
sites from framing the pages (clickjacking).
"""

from __future__ import annotations

from flask import Response

__all__ = ["CONTENT_SECURITY_POLICY", "add_security_headers"]

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def add_security_headers(response: Response) -> Response:
    """Set CSP, X-Content-Type-Options, X-Frame-Options and Referrer-Policy."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
