"""Code that runs inside each training rank (started by torchrun), plus its typed config."""
