"""The gateway: TuneForge's only public entry, an OpenAI-compatible REST API over the services."""
