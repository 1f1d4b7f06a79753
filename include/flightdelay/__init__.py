"""The flight-delay platform's importable library: configuration, checks, features, sinks.

On the Airflow, Spark and web-app path as `flightdelay` (include/ is on PYTHONPATH).
"""
