"""/v1/registry: TuneForge's model registry beyond OpenAI's /v1/models."""
