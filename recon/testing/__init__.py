"""Helpers for tests of recon and of pipelines built on it (real Blender checks, scenes)."""
