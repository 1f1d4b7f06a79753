"""
### evaluate_model
Gated promotion. Scores the candidate version and the current `champion` on the candidate's
hold-out months (Spark job `include/spark_jobs/evaluate_model.py`); alias `champion` moves only
if the candidate beats the majority-class baseline and the champion by `margin` on `metric`,
otherwise the version is tagged with why it was rejected. With no champion to score (the first
start) the decision reads the hold-out and baseline scores the candidate's training run logged
on the same months, and no Spark job runs. A promotion emits the
`champion_model` asset event, which the streaming job watches. Runs on each `model_candidate`
event; a manual run can name `model_name` and `version`.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import Param, dag, task

from flightdelay.assets import CHAMPION_MODEL, MODEL_CANDIDATE
from flightdelay.chain import announce_param
from flightdelay.config import NAMES, hdfs_url, state_dir
from flightdelay.spark_jobs import spark_job

RESULT = str(state_dir() / "runs" / "evaluate_model" / "{{ run_id | replace(':', '_') | replace('+', '_') }}.json")


@dag(
    dag_id="evaluate_model",
    doc_md=__doc__,
    schedule=[MODEL_CANDIDATE],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["training", "mlflow"],
    default_args={"owner": "ml-platform", "retries": 1, "retry_delay": timedelta(minutes=2)},
    params={
        "model_name": Param("", type="string", description="empty: from the model_candidate event"),
        "version": Param("", type="string", description="empty: from the event, else the latest version"),
        "metric": Param("f1_macro", enum=["f1_macro", "f1_weighted", "accuracy"]),
        "margin": Param(0.005, type="number", minimum=0),
        "announce": announce_param(),
    },
)
def evaluate_model():
    @task
    def find_candidate(params: dict, triggering_asset_events=None) -> dict:
        from mlflow import MlflowClient

        from flightdelay.serving_status import Registry

        events = (triggering_asset_events or {}).get(MODEL_CANDIDATE, [])
        extra = events[-1].extra if events else {}
        client = MlflowClient()
        name = params["model_name"] or extra.get("model_name") or NAMES.model_name
        version = params["version"] or extra.get("version")
        if not version:
            versions = client.search_model_versions(f"name='{name}'")
            version = str(max(int(v.version) for v in versions))
        champion = Registry().champion(name)
        return {"model_name": name, "version": str(version), "champion": champion and champion["version"]}

    @task.branch
    def choose_scoring(candidate: dict) -> str:
        if candidate["champion"] in (None, candidate["version"]):
            print(f"no other champion than version {candidate['version']}: decided from its training run's scores")
            return "decide_from_training_run"
        print(f"scoring version {candidate['version']} against champion version {candidate['champion']}")
        return "score_and_decide"

    @task
    def decide_from_training_run(candidate: dict, result_path: str, params: dict) -> dict:
        """The candidate's hold-out scores and baseline, logged by its training run on the months
        evaluate_model would score, decide alone (saves a Spark job of about a minute)."""
        from mlflow import MlflowClient

        from flightdelay.modeling import decide_promotion, logged_scores, record_decision

        client = MlflowClient()
        run = client.get_run(client.get_model_version(candidate["model_name"], candidate["version"]).run_id)
        scores, baseline = logged_scores(run.data.metrics)
        decision = decide_promotion(scores, None, baseline, params["metric"], params["margin"])
        result = record_decision(client, candidate["model_name"], candidate["version"], decision, Path(result_path),
                                 metric=params["metric"], margin=params["margin"],
                                 holdout_months=run.data.params["holdout_months"].split(","), candidate=scores,
                                 baseline=baseline, scored_by=f"training run {run.info.run_id}",
                                 champion_version=None, champion=None)
        return {k: result[k] for k in ("version", "promoted", "reason")}

    candidate = find_candidate()

    score = spark_job("score_and_decide", "evaluate_model.py", application_args=[
            "--hdfs", hdfs_url(), "--result-path", RESULT,
            "--model-name", "{{ ti.xcom_pull(task_ids='find_candidate')['model_name'] }}",
            "--version", "{{ ti.xcom_pull(task_ids='find_candidate')['version'] }}",
            "--metric", "{{ params.metric }}", "--margin", "{{ params.margin }}",
    ])

    @task.short_circuit(trigger_rule="none_failed_min_one_success")
    def promoted(result_path: str) -> bool:
        import json

        result = json.loads(Path(result_path).read_text())
        print(f"version {result['version']}: {'promoted' if result['promoted'] else 'rejected'}: {result['reason']}")
        return result["promoted"]

    @task(outlets=[CHAMPION_MODEL])
    def announce_champion(result_path: str, params: dict, outlet_events=None) -> str:
        import json

        from flightdelay.chain import skip_unless_announced

        skip_unless_announced(params, "the promotion")
        result = json.loads(Path(result_path).read_text())
        outlet_events[CHAMPION_MODEL].extra = {"model_name": result["model_name"], "version": result["version"]}
        return result["version"]

    decided = promoted(RESULT)
    choose_scoring(candidate) >> [score, decide_from_training_run(candidate, RESULT)] >> decided
    decided >> announce_champion(RESULT)


evaluate_model_dag = evaluate_model()

if __name__ == "__main__":
    evaluate_model_dag.test()
