"""VOSI documents (availability, capabilities, tables) built from plain data."""
