"""Pieces every headless package shares: units and constants, and the user-input error."""
