"""Alerts: rules over the metric stream, their states, and the transitions to notify."""
