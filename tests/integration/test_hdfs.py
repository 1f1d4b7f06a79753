"""HDFS: write, list, read, delete through WebHDFS and through Spark hdfs://."""
from __future__ import annotations

import pytest
from hdfs.util import HdfsError


def test_webhdfs_write_list_read_delete(webhdfs, unique):
    folder = f"/tmp/platform-test-{unique}"
    webhdfs.write(f"{folder}/hello.txt", data=f"hello {unique}\n", encoding="utf-8")
    assert webhdfs.list(folder) == ["hello.txt"]
    with webhdfs.read(f"{folder}/hello.txt", encoding="utf-8") as reader:
        assert reader.read() == f"hello {unique}\n"
    assert webhdfs.delete(folder, recursive=True)
    with pytest.raises(HdfsError):
        webhdfs.list(folder)


def test_prediction_folder_exists(webhdfs):
    from flightdelay.config import NAMES

    assert webhdfs.status(NAMES.hdfs_prediction_dir)["type"] == "DIRECTORY"


def test_spark_writes_and_reads_parquet_on_hdfs(spark, webhdfs, platform, unique):
    path = f"hdfs://127.0.0.1:{platform.port('HDFS_RPC_PORT')}/tmp/spark-test-{unique}"
    rows = [(i, f"row-{i}") for i in range(100)]
    spark.createDataFrame(rows, "id INT, name STRING").write.parquet(path)

    assert any(name.endswith(".parquet") for name in webhdfs.list(f"/tmp/spark-test-{unique}"))
    back = spark.read.parquet(path)
    assert sorted(tuple(r) for r in back.collect()) == rows

    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    assert fs.delete(hadoop_path, True)
    assert not fs.exists(hadoop_path)
