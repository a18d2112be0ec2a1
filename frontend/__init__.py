"""The annotator UI and the manager dashboard."""
