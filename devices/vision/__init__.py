"""Cameras that see: frame sources, the motion step, visit grouping, snapshots and the per-camera watcher."""
