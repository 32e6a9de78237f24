"""The model in service and its hot reload.

A request reads ``holder.current`` once and uses that :class:`ServedModel` throughout,
so a swap (one reference assignment, atomic in CPython) never mixes versions inside a
request. Reloads load and verify in a background thread; a version that fails is
rejected, logged and counted, and the old model keeps serving.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from nids.errors import NidsError
from nids.serving.alerts import ModelRef
from nids.serving.metrics import ServiceMetrics
from nids.settings import Settings

log = logging.getLogger("nids.serving")

ModelLoader = Callable[[str, Settings], Any]
#: Returns the registry version a URI currently names (None: not a registered model).
VersionProbe = Callable[[str, Settings], "int | None"]

# A plausible flow used to run every code path once before a model takes traffic
# (numba kernels load from cache, pandas/feature paths warm up).
_WARMUP_FLOW = {
    "ts": pd.Timestamp("2025-01-01T00:00:00Z"),
    "duration": 0.5,
    "src_ip": "10.0.0.1",
    "src_port": 50000,
    "dst_ip": "192.0.2.10",
    "dst_port": 443,
    "proto": "tcp",
    "src_bytes": 1200,
    "dst_bytes": 5400,
    "src_pkts": 10,
    "dst_pkts": 12,
    "tcp_flags": 27,
    "conn_state": "SF",
    "service": "ssl",
    "label": None,
    "attack_type": None,
    "community_id": "1:warmup",
}


@dataclass
class ServedModel:
    """A verified model with its scorer and the online host-context state."""

    loaded: Any  # nids.registry.LoadedModel
    scorer: Any  # nids.model.scorer.Scorer
    context: Any  # nids.features.HostContextState (persistent, online mode)
    ref: ModelRef
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    lock: threading.Lock = field(default_factory=threading.Lock)
    monitor: Any = None  # nids.monitoring.rolling.RollingDriftMonitor (drift gauges)

    @property
    def version_label(self) -> str:
        """The version as a metric label."""
        return self.ref.version


def build_served_model(loaded: Any) -> ServedModel:
    """Wrap a loaded model for serving: scorer, fresh online state, warmed-up paths."""
    from nids.data.validation import check_flows

    nids_model = loaded.nids_model
    scorer = getattr(nids_model, "scorer", None)
    if scorer is None:
        raise NidsError(f"{loaded.uri} has no scorer: not a nids model")
    warm = check_flows(pd.DataFrame([_WARMUP_FLOW])).valid
    scorer.predict_frame(warm, state=scorer.features_step.new_state(), explain="all")
    ref = ModelRef(
        name=str(loaded.name or loaded.uri),
        version=str(loaded.version) if loaded.version is not None else "unregistered",
        semver=loaded.semver,
    )
    return ServedModel(
        loaded=loaded, scorer=scorer, context=scorer.features_step.new_state(), ref=ref
    )


def _start_monitor(served: ServedModel, settings: Settings, metrics: ServiceMetrics) -> Any:
    """The model's rolling drift monitor (None when disabled or without a profile)."""
    from nids.monitoring.rolling import build_service_monitor

    return build_service_monitor(served, settings, metrics.registry)


def registry_version_probe(uri: str, settings: Settings) -> int | None:
    """The version number ``uri`` resolves to in the registry right now."""
    from nids.registry.loader import resolve_uri
    from nids.registry.store import configure_mlflow

    mv = resolve_uri(configure_mlflow(settings), uri)
    return int(mv.version) if mv is not None else None


class ModelHolder:
    """Holds the served model; loads it, and reloads it when the registry alias moves."""

    def __init__(
        self,
        settings: Settings,
        metrics: ServiceMetrics,
        *,
        loader: ModelLoader,
        probe: VersionProbe,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self._loader = loader
        self._probe = probe
        self.current: ServedModel | None = None
        self.last_error: str | None = None
        self._rejected: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._swap_lock = threading.Lock()

    def load(self, kind: str = "initial") -> bool:
        """Load and verify the configured model; swap it in on success."""
        uri = self.settings.model_uri
        try:
            served = build_served_model(self._loader(uri, self.settings))
            served.monitor = _start_monitor(served, self.settings, self.metrics)
        except Exception as exc:  # any failure: keep what we have, count and report it
            self.last_error = str(exc) if isinstance(exc, NidsError) else type(exc).__name__
            self.metrics.model_loads.labels(kind, "failure").inc()
            log.error("model %s rejected (%s load): %s", uri, kind, self.last_error)
            return False
        self._swap(served)
        self.metrics.model_loads.labels(kind, "success").inc()
        log.info("serving %s version %s (%s)", served.ref.name, served.ref.version, kind)
        return True

    def _swap(self, served: ServedModel) -> None:
        with self._swap_lock:
            old = self.current
            self.current = served
            self.last_error = None
            self._rejected = None
            if old is not None:
                self.metrics.model_info.remove(old.ref.name, old.ref.version, old.ref.semver or "")
            self.metrics.model_info.labels(
                served.ref.name, served.ref.version, served.ref.semver or ""
            ).set(1)
            self.metrics.model_loaded_at.set(served.loaded_at.timestamp())
        if old is not None and old.monitor is not None:
            old.monitor.close()  # its model no longer serves: its drift series go
        # Long-lived model objects leave the GC's young generations: fewer, shorter pauses.
        gc.collect()
        gc.freeze()

    def check_for_update(self) -> bool:
        """One poll: reload when the URI now names another version. True if swapped."""
        uri = self.settings.model_uri
        try:
            target = self._probe(uri, self.settings)
        except Exception as exc:  # registry unreachable: keep serving, try next time
            self.metrics.model_loads.labels("probe", "failure").inc()
            log.warning("registry poll for %s failed: %s", uri, exc)
            return False
        current = self.current
        if current is None:
            return self.load("initial")
        if target is None or str(target) == current.ref.version or target == self._rejected:
            return False
        log.info("%s moved to version %s; loading it", uri, target)
        if self.load("reload"):
            return True
        self._rejected = target  # do not retry the same bad version on every poll
        return False

    def start_polling(self) -> None:
        """Poll the registry every ``reload_interval_s`` in a daemon thread (0: never)."""
        interval = self.settings.reload_interval_s
        if interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._poll_loop, args=(interval,), name="nids-model-reload", daemon=True
        )
        self._thread.start()

    def _poll_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.check_for_update()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling (waits for a reload in progress)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        current = self.current
        if current is not None and current.monitor is not None:
            current.monitor.close()

    def uptime_s(self) -> float:
        """Seconds since the served model was loaded (0 when none)."""
        current = self.current
        return 0.0 if current is None else time.time() - current.loaded_at.timestamp()
