"""bltlib: the tested library behind the course *From Tokens to Patches*."""

__version__ = "0.1.0"
