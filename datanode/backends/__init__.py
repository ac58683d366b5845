"""Data backends for external locations (clouds and S3-compatible services), one module per location type."""
