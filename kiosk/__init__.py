"""kiosk: front-desk patient-portal registration. The domain layer; no UI imports here."""

__version__ = "0.1.0"
