"""Django models of frontend (run records arrive with the feedback-loop issue)."""
