"""Sensors and schedules that start runs without a person."""
