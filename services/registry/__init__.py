"""Model registry service: base models, fine-tuned versions and their artifacts."""
