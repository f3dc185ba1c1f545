"""tokenlens: exact token, cost and efficiency reports from AI coding-assistant exports."""

__version__ = "0.1.0"
