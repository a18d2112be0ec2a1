"""Django models of alignment (run records arrive with the feedback-loop issue)."""
