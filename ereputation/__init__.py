"""ereputation: know early when other people start talking about your brand."""

__version__ = "0.1.0"
