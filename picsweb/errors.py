class ApplicationError(Exception):
    """A failure a person can act on; views show the message, the API answers 400 with it."""

    def __init__(self, message: str, *, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
