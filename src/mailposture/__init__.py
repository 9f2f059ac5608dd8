"""mailposture: sender-domain authentication surveys and an overseas-submission guard."""

__version__ = "0.1.0"
