"""The daemon's HTTP API: app factory, routes per resource, errors and security."""
