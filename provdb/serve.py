"""Run the TAP service under gunicorn (the production server, not Flask's dev server).

``provdb`` never imports ``tap`` at module level: the app factory is named by string
and imported inside the gunicorn workers.
"""

from __future__ import annotations

from typing import Any

__all__ = ["run_gunicorn"]


def run_gunicorn(*, host: str, port: int, workers: int, threads: int) -> None:
    """Serve ``tap.app:create_app()`` on host:port until interrupted."""
    import gunicorn.http.wsgi
    from gunicorn.app.base import BaseApplication

    from provdb import __version__

    # gunicorn writes its own "Server: gunicorn" header on every response; clients and
    # taplint (W_SVRV) want the product that answers, so name provdb there instead.
    gunicorn.http.wsgi.SERVER = f"provdb/{__version__} (ProvTAP; gunicorn)"

    class _App(BaseApplication):
        def load_config(self) -> None:
            options = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread",
                # long WAIT polls and big streamed results: no worker timeout kills them
                "timeout": 0,
                "graceful_timeout": 10,
                "keepalive": 5,
                "accesslog": "-",
                "errorlog": "-",
                "loglevel": "info",
                "proc_name": "provdb-serve",
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from tap.app import create_app

            return create_app()

    _App().run()
