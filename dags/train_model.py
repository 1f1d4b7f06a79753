"""
### train_model
Nightly retrain: Spark job `include/spark_jobs/train_model.py` fits the RandomForest pipeline
on the feature table with a time-based split (train on earlier months, hold out the latest),
with the origin's arrivals read from `/data/features/origin_arrivals` (hidden for a share of
the training rows, so that the model also answers for days the feed does not cover),
logs params, data partitions, metrics, plots and the model (signature, input example) to MLflow
and registers a new version. Manual runs take a date range and hyper-parameters as params.
The new version is announced on the `model_candidate` asset for evaluate_model. Runs nightly at
02:00 UTC and whenever build_features publishes a new feature table (the first start's training);
a run with no feature table yet skips.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from flightdelay.assets import FEATURES, MODEL_CANDIDATE
from flightdelay.chain import announce_param
from flightdelay.config import NAMES, WEBHDFS_CONN_ID, hdfs_url, state_dir
from flightdelay.spark_jobs import spark_job

RESULT = str(state_dir() / "runs" / "train_model" / "{{ run_id | replace(':', '_') | replace('+', '_') }}.json")


@dag(
    dag_id="train_model",
    doc_md=__doc__,
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 2 * * *", timezone="UTC"), assets=[FEATURES]),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["training", "spark", "mlflow"],
    default_args={"owner": "ml-platform", "retries": 1, "retry_delay": timedelta(minutes=2)},
    params={
        "model_name": Param(NAMES.model_name, type="string"),
        "from_month": Param("", type="string", description="YYYY-MM; empty: all feature months"),
        "to_month": Param("", type="string"),
        "holdout_months": Param(1, type="integer", minimum=1),
        "feature_set": Param("improved", enum=["improved", "seed"]),
        "num_trees": Param(15, type="integer", minimum=1),
        "max_depth": Param(8, type="integer", minimum=1, maximum=30),
        "forest_max_rows": Param(160_000, type="integer", minimum=0,
                                 description="most training rows the forest learns from (a random sample "
                                             "when there are more, so the fit does not grow with the lake; "
                                             "the history encoder reads every row); 0 = every row"),
        "arrivals_hidden": Param(0.2, type="number", minimum=0, maximum=1,
                                 description="share of training rows whose origin arrivals are hidden, so "
                                             "that the model also answers for days the feed does not cover"),
        "balance_classes": Param(False, type="boolean"),
        "announce": announce_param(),
    },
)
def train_model():
    @task.short_circuit
    def find_features() -> bool:
        from airflow.providers.apache.hdfs.hooks.webhdfs import WebHDFSHook

        from flightdelay import lake

        if WebHDFSHook(webhdfs_conn_id=WEBHDFS_CONN_ID).check_for_path(lake.FEATURES):
            return True
        print(f"no feature table at {lake.FEATURES} yet (download_flights builds it): nothing to train")
        return False

    fit = spark_job("fit_model", "train_model.py", driver_memory="3g", application_args=[
            "--hdfs", hdfs_url(), "--model-name", "{{ params.model_name }}", "--result-path", RESULT,
            "--from-month", "{{ params.from_month }}", "--to-month", "{{ params.to_month }}",
            "--holdout-months", "{{ params.holdout_months }}", "--feature-set", "{{ params.feature_set }}",
            "--num-trees", "{{ params.num_trees }}", "--max-depth", "{{ params.max_depth }}",
            "--forest-max-rows", "{{ params.forest_max_rows }}",
            "--arrivals-hidden", "{{ params.arrivals_hidden }}",
            "--balance-classes", "{{ params.balance_classes }}",
    ])

    @task(outlets=[MODEL_CANDIDATE])
    def announce_candidate(result_path: str, params: dict, outlet_events=None) -> dict:
        import json

        from flightdelay.chain import skip_unless_announced

        skip_unless_announced(params, "the new version")
        result = json.loads(Path(result_path).read_text())
        outlet_events[MODEL_CANDIDATE].extra = {"model_name": result["model_name"], "version": result["version"],
                                                "result_path": result_path}
        return {"version": result["version"], "f1_macro": result["metrics"]["f1_macro"]}

    find_features() >> fit >> announce_candidate(RESULT)


train_model_dag = train_model()

if __name__ == "__main__":
    train_model_dag.test()
