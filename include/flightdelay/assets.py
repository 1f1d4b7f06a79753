"""Assets that link the training DAGs (one producer each; consumers schedule on them)."""
from __future__ import annotations

from airflow.sdk import Asset

RAW_FLIGHTS = Asset("raw_flights")            # download_flights -> validate_flights
VALIDATED_FLIGHTS = Asset("validated_flights")  # validate_flights -> build_features
FEATURES = Asset("flight_features")           # build_features (read by train_model)
MODEL_CANDIDATE = Asset("model_candidate")    # train_model -> evaluate_model (extra: version)
CHAMPION_MODEL = Asset("champion_model")      # evaluate_model, on promotion (the stream watches it)
