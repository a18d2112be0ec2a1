"""Django models of rewards (run records arrive with the feedback-loop issue)."""
