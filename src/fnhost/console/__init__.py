"""The web console: server-rendered pages over the same services as the API, with the same
capabilities, mounted by the app factory at /console."""
