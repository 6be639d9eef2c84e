"""The outputs of recent audits, kept on disk only as long as their downloads are needed: at most
``max_audits`` audits and ``max_age_s`` seconds each; the oldest go first. Ids are random and unguessable."""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path

FILES = {
    "results.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "results.csv": "text/csv; charset=utf-8",
    "isp_no_nhs_contribution.csv": "text/csv; charset=utf-8",
    "needs_approval.csv": "text/csv; charset=utf-8",
    "refer.csv": "text/csv; charset=utf-8",
    "not_permitted.csv": "text/csv; charset=utf-8",
    "nhs_recharge_gaps.csv": "text/csv; charset=utf-8",
    "errors.csv": "text/csv; charset=utf-8",
    "kpis.json": "application/json",
    "report.html": "text/html; charset=utf-8",
}


class AuditStore:
    def __init__(self, max_audits: int = 8, max_age_s: float = 3600.0) -> None:
        self.max_audits = max_audits
        self.max_age_s = max_age_s
        self.root = Path(tempfile.mkdtemp(prefix="carerules-audits-"))
        self._kept: OrderedDict[str, tuple[float, Path]] = OrderedDict()
        self._lock = threading.Lock()

    def new_folder(self) -> tuple[str, Path]:
        """A fresh id and its folder for the outputs (kept once ``keep`` is called)."""
        audit_id = secrets.token_urlsafe(18)
        folder = self.root / audit_id
        folder.mkdir()
        return audit_id, folder

    def keep(self, audit_id: str, folder: Path) -> None:
        with self._lock:
            self._kept[audit_id] = (time.monotonic(), folder)
            self._evict()

    def file(self, audit_id: str, name: str) -> Path | None:
        if name not in FILES:
            return None
        with self._lock:
            self._evict()
            kept = self._kept.get(audit_id)
        path = kept[1] / name if kept else None
        return path if path is not None and path.is_file() else None

    def discard(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)

    def _evict(self) -> None:
        now = time.monotonic()
        while self._kept:
            oldest_id, (when, folder) = next(iter(self._kept.items()))
            if len(self._kept) <= self.max_audits and now - when <= self.max_age_s:
                break
            del self._kept[oldest_id]
            shutil.rmtree(folder, ignore_errors=True)
