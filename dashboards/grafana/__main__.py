"""Regenerate the committed Grafana dashboard JSON: ``python -m dashboards.grafana``."""

from dashboards.grafana import write_dashboard

if __name__ == "__main__":
    print(write_dashboard())
