"""The platform's own Airflow hooks and sensors, in the provider shape (hooks/, sensors/)."""
