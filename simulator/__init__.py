"""modsim: a content-moderation policy simulator."""
