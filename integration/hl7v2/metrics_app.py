"""`/metrics` over HTTP for the listener's counters (Prometheus text format)."""

from __future__ import annotations

from flask import Flask, Response

from integration.hl7v2.metrics import Metrics


def metrics_view(metrics: Metrics) -> Response:
    return Response(metrics.prometheus(), mimetype="text/plain; version=0.0.4")


def add_metrics_route(app: Flask, metrics: Metrics) -> None:
    app.add_url_rule("/metrics", "metrics", lambda: metrics_view(metrics))


def metrics_app(metrics: Metrics) -> Flask:
    app = Flask(__name__)
    add_metrics_route(app, metrics)
    return app
