"""MLflow: run with metric and artifact, registered model version, alias `champion`."""
from __future__ import annotations

import mlflow
from mlflow import MlflowClient


def test_tracking_and_registry(platform, unique, tmp_path):
    uri = f"http://127.0.0.1:{platform.port('MLFLOW_PORT')}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    experiment_id = client.create_experiment(f"platform-test-{unique}")

    artifact = tmp_path / "note.txt"
    artifact.write_text(f"artifact {unique}")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_param("trees", 20)
        mlflow.log_metric("accuracy", 0.61)
        mlflow.log_artifact(str(artifact))
        model_info = mlflow.pyfunc.log_model(name="model", python_model=_Constant())

    stored = client.get_run(run.info.run_id)
    assert stored.data.metrics["accuracy"] == 0.61
    assert stored.data.params["trees"] == "20"
    downloaded = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="note.txt",
                                                      dst_path=str(tmp_path / "dl"))
    assert open(downloaded).read() == f"artifact {unique}"

    name = f"platform_test_model_{unique}"
    version = mlflow.register_model(model_info.model_uri, name)
    assert version.version == "1"
    client.set_registered_model_alias(name, "champion", version.version)
    champion = client.get_model_version_by_alias(name, "champion")
    assert champion.version == "1" and champion.run_id == run.info.run_id

    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    assert list(loaded.predict([[1], [2]])) == [7, 7]
    client.delete_registered_model(name)


class _Constant(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [7 for _ in range(len(model_input))]
