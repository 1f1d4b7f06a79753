"""Flask web app of the flight-delay platform (flaskr shape: `create_app` + blueprints).

Served by gunicorn on 127.0.0.1:5001 under `make run`; this is the placeholder the platform
supervises until the prediction form lands.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

from flask import Flask


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from defaults, then environment (FLIGHTDELAY_*), then `test_config`."""
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("FLIGHTDELAY_WEBAPP_SECRET_KEY") or os.urandom(32),
        MAX_CONTENT_LENGTH=16 * 1024,
    )
    app.config.from_prefixed_env("FLIGHTDELAY")
    if test_config is not None:
        app.config.from_mapping(test_config)

    from webapp import health, pages

    app.register_blueprint(health.bp)
    app.register_blueprint(pages.bp)
    return app
