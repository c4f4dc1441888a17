"""opwatch: check, wait on and explain long-running asynchronous operations of remote APIs."""

__version__ = "0.1.0"
