"""opwatch's HTTP stack against real servers, each case beside stock httpx on the same server."""
