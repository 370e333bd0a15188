"""Code every TuneForge service shares: settings, errors, events, artifacts, database, gRPC."""
