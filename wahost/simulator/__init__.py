"""The simulator: a bot run against a local Graph API, chatted with from a terminal or a browser."""
