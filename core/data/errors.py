"""The one error type of data preparation: what is wrong with the data and what to do."""


class DataError(ValueError):
    """The data cannot be used as it is; the message says why and what to do."""
