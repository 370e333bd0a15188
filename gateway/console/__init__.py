"""The web console: static pages served by the gateway at /console."""
