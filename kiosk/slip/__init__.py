"""The printed slip: its words and QR code, the PDF, and printing through CUPS."""
