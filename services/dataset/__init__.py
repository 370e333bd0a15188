"""Dataset service: uploaded chat files, validated and stored content-addressed."""
