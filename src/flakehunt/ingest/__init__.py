"""Ingest: read CDN, server and HAR logs into a case's normalized `exchanges` dataset."""

from flakehunt.ingest.pipeline import ingest_paths, read_rejects, scan_rejects
from flakehunt.ingest.summary import FileResult, IngestSummary

__all__ = ["FileResult", "IngestSummary", "ingest_paths", "read_rejects", "scan_rejects"]
