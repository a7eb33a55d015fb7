"""Registration PINs: issuing for a family, their life, and redeeming them on the portal."""
