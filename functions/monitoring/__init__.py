"""The kit's own model monitoring (SageMaker Model Monitor is closed to new customers).

* `drift.py`: per-feature drift of the endpoint's captured inputs against the serving model's
  baseline (Evidently), one SageMaker Processing job per run.
* `quality.py`: AUC, precision and recall of captured predictions joined with late labels
  (scikit-learn), one SageMaker Processing job per run.
* `capture.py`: what both read (data capture, labels, feature lists) and how they write.
* `launch/handler.py`: the Lambda EventBridge Scheduler invokes to start a job, with only the
  hour folders of its window as inputs (a manifest): capture and labels grow without end.
* `publish/handler.py`: the Lambda that turns a finished job's results JSON into CloudWatch
  metrics (and MLflow runs): the jobs are network-isolated and cannot do it themselves.

Deployed by `modules/monitoring/kit_jobs.py` (backend `kit-jobs`), which writes the schedules'
requests: the jobs' arguments and inputs, and the alarms on the published metrics.
* `Dockerfile`, `requirements.txt`: the jobs' image (pinned; referenced by digest).
"""
