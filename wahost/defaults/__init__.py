"""Built-in behaviour, shipped as plugins registered like any other (``trylast``)."""
