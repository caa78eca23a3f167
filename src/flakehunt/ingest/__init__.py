"""Ingest: detect, parse and normalize log and HAR files into a case's exchanges."""
