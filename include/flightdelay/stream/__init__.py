"""The prediction stream's parts, one job per module; include/spark_jobs/prediction_stream.py is
the program that runs them.

  options     the job's settings (StreamOptions), typed
  champion    the model served: follow the registry alias, load and check a version, keep serving
  respond     the latency-critical query in its two modes (real-time, micro-batch transactions)
  sink_queries  store (MongoDB + Cassandra) and archive (HDFS parquet) from the response topic
  topics      the commit topic of the micro-batch mode and its markers
  app         the Spark session and the supervise loop (model swap, stop file, lease)
"""
