"""Analytics: pure computations over data the jobs load (core/analytics/data.py), and the
service that runs them and keeps what reports and pushes read."""
