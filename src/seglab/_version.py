"""seglab's version, in a module of its own so any layer can read it without importing the
package's lazy API (``seglab/__init__``)."""

__version__ = "0.1.0"
