"""Inference service: deployments of registered models and chat completions from them."""
