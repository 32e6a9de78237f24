#!/usr/bin/env bash
# The lifecycle on embedded defaults. Each stage is a real CLI command a user could type.
set -euo pipefail
cd "$(dirname "$0")/.."
export NIDS_DEMO=1
step() { printf '\n\033[1;34m==> %s\033[0m\n' "$*"; }

step "Configuration in effect"
nids config show

step "Generate a week of synthetic enterprise traffic with labelled attacks (docs/generator.md)"
nids generate --out data/netflow.parquet --flows 200000 --days 7 --attack-share 0.03 --seed 7

step "Validate the generated flows against the canonical schema (docs/data.md)"
nids data validate data/netflow.parquet

step "Summarise them: time span, label and attack mix, protocols, services, top ports"
nids data summary data/netflow.parquet

step "Train: fit on the earlier days, threshold on held-out benign flows, test on the last days, log to MLflow, register (docs/training.md)"
python models/nids/train.py --data data/netflow.parquet --register | tee data/train.log
VERSION=$(sed -n 's/^registered: nids-isoforest version \([0-9][0-9]*\).*/\1/p' data/train.log)

step "Promote the new version to production (gated against the incumbent; exit 5 = refused, incumbent kept)"
nids models promote "$VERSION" --to production --reason "demo: freshly trained" || test $? -eq 5

step "Model registry: versions with semantic version, stage and aliases (docs/registry.md)"
nids models list

step "Verify the production model's artefacts against their registered SHA-256 manifest"
nids models verify production

step "Registry audit history: who promoted or rolled back which version, when, why, gate figures"
nids models history --limit 10

step "Evaluate honestly: fit on the first days, calibrate on held-out benign, test on the last days, vs the plain numeric IsolationForest (docs/evaluation.md)"
nids evaluate --data data/netflow.parquet --train-on all --no-log --output reports/evaluation

step "Serve the production model (nids serve) and stream a day of traffic with attacks through it (docs/serving.md)"
nids generate --out data/serve-demo.parquet --flows 20000 --days 1 --attack-share 0.05 --seed 21
mkdir -p data/alerts
NIDS_ALERT_SINK=file NIDS_ALERT_FILE=data/alerts/demo-alerts.jsonl NIDS_RELOAD_INTERVAL_S=0 \
  nids serve --port 8085 > data/serve-demo.log 2>&1 &
SERVE_PID=$!
stop_service() { kill -TERM "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null || true; }
trap stop_service EXIT
for _ in $(seq 1 240); do curl -fsS http://127.0.0.1:8085/readyz >/dev/null 2>&1 && break; sleep 0.5; done
curl -fsS http://127.0.0.1:8085/readyz; echo
nids replay data/serve-demo.parquet --url http://127.0.0.1:8085 --batch-size 1000

step "Two of the ECS alerts it wrote (event.kind alert, Community ID, explanation)"
head -n 2 data/alerts/demo-alerts.jsonl | cut -c1-700
stop_service
trap - EXIT

step "Drift check: a normal day vs the production model's reference profile (docs/monitoring.md; exit 0 = no drift, 3 = drift)"
nids generate --out data/day-normal.parquet --flows 28600 --days 1 --attack-share 0.03 --seed 7 --start 2026-03-04
nids monitor drift --current data/day-normal.parquet --json reports/drift-normal.json || test $? -eq 3

step "Drift check: a day with a new video-conferencing service rolled out (HTML report with per-column plots)"
nids generate --out data/day-new-service.parquet --flows 28600 --days 1 --attack-share 0.03 --seed 7 --start 2026-03-04 --drift new_service
nids monitor drift --current data/day-new-service.parquet --report reports/drift-new-service.html || test $? -eq 3

step "Analyst feedback: import verdicts, live precision per model version"
printf '%s\n' \
  '{"alert_id": "demo-1", "verdict": "true_positive", "model_version": "1", "flow": {"src_ip": "203.0.113.7", "dst_port": 22}}' \
  '{"alert_id": "demo-2", "verdict": "false_positive", "model_version": "1"}' > data/feedback-demo.jsonl
nids feedback import data/feedback-demo.jsonl
nids feedback summary

if [ -d data/prediction-log ]; then
  step "One monitoring cycle over the service's prediction log (what the CronJob runs): drift + feedback + MLflow run"
  nids monitor run || test $? -eq 3
fi

step "Retraining (docs/retraining.md): a newer week lands in the dated data lake, with drift (a video-conferencing roll-out)"
nids models verify production >/dev/null 2>&1 || nids retrain --data data/netflow.parquet
nids generate --out data/lake/2025-11-10.parquet --flows 60000 --days 7 --start 2025-11-10 --attack-share 0.03 --seed 8 --drift new_service

step "Drift monitoring flags the new week against the production model's reference profile (exit 3 = drift)"
nids monitor drift --current data/lake/2025-11-10.parquet --no-mlflow || test $? -eq 3

step "nids retrain over the dated layout: validate, train a challenger, compare with production on the same held-out window, register, gate (exit 0 promoted, 5 champion kept)"
nids retrain --root data/lake/ --since 2025-11-10 --until 2025-11-17 || test $? -eq 5

step "The same window again is a no-op (idempotent by dataset digest)"
nids retrain --root data/lake/ --since 2025-11-10 --until 2025-11-17

step "Batch scoring (docs/scale-out.md): the week's archive through the production model into date/hour-partitioned parquet + _summary.json"
nids score-batch --input data/netflow.parquet --output data/scored --overwrite
python -c "import json; s = json.load(open('data/scored/_summary.json')); print({k: s[k] for k in ('rows', 'alerts', 'flows_per_s', 'model')}, len(s['partitions']), 'partitions')"

step "A stratified (date, hour, label) training sample of the archive, with full-context features (nids prepare; --engine spark on a cluster)"
nids prepare --input data/netflow.parquet --output data/prepared --max-rows 20000 --overwrite

step "A/B in the service (docs/ab-testing.md): production vs the latest version, 80/20 sticky by source host, version 1 as a shadow; every answer and alert names its variant"
printf '%s\n' 'name: demo-ab' 'variants:' \
  '  - {name: control, model_uri: "models:/nids-isoforest@production", weight: 0.8}' \
  '  - {name: candidate, model_uri: "models:/nids-isoforest/latest", weight: 0.2}' \
  '  - {name: shadow-v1, model_uri: "models:/nids-isoforest/1", shadow: true}' > data/ab-demo.yaml
nids ab assign --config data/ab-demo.yaml 10.0.1.20 10.0.1.21 10.0.10.156
rm -rf data/ab-log
NIDS_AB_CONFIG=data/ab-demo.yaml NIDS_PREDICTION_LOG_DIR=data/ab-log NIDS_PREDICTION_LOG_SAMPLE_RATE=1 \
  NIDS_ALERT_SINK=none NIDS_RELOAD_INTERVAL_S=0 nids serve --port 8086 > data/ab-demo.log 2>&1 &
AB_PID=$!
stop_ab() { kill -TERM "$AB_PID" 2>/dev/null && wait "$AB_PID" 2>/dev/null || true; }
trap stop_ab EXIT
for _ in $(seq 1 240); do curl -fsS http://127.0.0.1:8086/readyz >/dev/null 2>&1 && break; sleep 0.5; done
# The shadow runs in its own low-priority process, outside readiness: wait until it has
# loaded its model (before the traffic) and scored its queue (before stopping the service).
shadow() {
  curl -fsS http://127.0.0.1:8086/v1/experiment | python -c "import json, sys; x = json.load(sys.stdin); \
v = next(v for v in x['variants'] if v['role'] == 'shadow'); \
sys.exit(0 if ('$1' == 'loaded' and v['model_version']) or ('$1' == 'idle' and not x['shadow']['queued_flows']) else 1)"
}
for _ in $(seq 1 240); do shadow loaded && break; sleep 0.5; done
nids replay data/serve-demo.parquet --url http://127.0.0.1:8086 --batch-size 1000 --limit 10000
for _ in $(seq 1 240); do shadow idle && break; sleep 0.5; done
curl -fsS http://127.0.0.1:8086/v1/experiment; echo
stop_ab
trap - EXIT

step "nids ab report: flows/alerts/alert-rate CIs/latency/agreement per variant and a verdict (it says how much more evidence it needs)"
nids ab report --config data/ab-demo.yaml --log data/ab-log --out reports/ab

step "Kubernetes: the ab overlay puts nids-v1 (8 replicas) and nids-v2 (2) behind nids-service (docs/operations.md)"
kubectl kustomize infra/k8s/overlays/ab | grep -E '^  name: (mlflow|nids-service|nids-v1|nids-v2)$|^  replicas: |nids-isoforest/[0-9]+$'
