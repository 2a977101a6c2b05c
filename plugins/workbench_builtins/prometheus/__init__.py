"""prometheus: PromQL series and the scraped services of a Prometheus server, by its URL.

Registered as the ``prometheus`` entry point (``workbench_builtins.prometheus:plugin``).
"""

from .plugin import PrometheusPlugin

plugin = PrometheusPlugin()

__all__ = ["PrometheusPlugin", "plugin"]
